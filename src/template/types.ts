/**
 * The shapes of a CloudFormation template as this package builds it. Values are JSON; intrinsic
 * functions ({Ref}, {"Fn::GetAtt"}, …) are plain objects.
 */

export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

export interface CfnParameter {
  Type: "String" | "Number" | "AWS::EC2::KeyPair::KeyName" | "AWS::EC2::Image::Id";
  Description: string;
  Default?: string | number;
  AllowedPattern?: string;
  ConstraintDescription?: string;
  MinValue?: number;
  MaxValue?: number;
  MinLength?: number;
  MaxLength?: number;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnOutput {
  Description: string;
  Value: CfnValue;
}

export interface CfnTemplate {
  AWSTemplateFormatVersion: "2010-09-09";
  Description: string;
  Parameters: Record<string, CfnParameter>;
  Mappings?: Record<string, Record<string, Record<string, string>>>;
  Conditions?: Record<string, CfnValue>;
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, CfnOutput>;
}

/** A piece of a template: the resources it adds. */
export interface TemplatePart {
  resources: Record<string, CfnResource>;
  /** Conditions the resources name (merged into the template's Conditions). */
  conditions?: Record<string, CfnValue>;
}

export const ref = (name: string): CfnValue => ({ Ref: name });
export const getAtt = (resource: string, attribute: string): CfnValue => ({
  "Fn::GetAtt": [resource, attribute],
});

/** The tags every resource of a cluster carries: Name and pandacluster:cluster, both the stack's name. */
export function clusterTags(suffix = ""): CfnValue[] {
  // Fn::Sub, as cfn-lint prefers (I1022): the suffixes are this code's own ("-worker", "-a"), no "${".
  const name: CfnValue = suffix ? { "Fn::Sub": `\${AWS::StackName}${suffix}` } : ref("AWS::StackName");
  return [
    { Key: "Name", Value: name },
    { Key: "pandacluster:cluster", Value: ref("AWS::StackName") },
  ];
}
