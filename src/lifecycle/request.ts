import { randomUUID } from "node:crypto";
import type { CreateStackCommandInput } from "@aws-sdk/client-cloudformation";
import type { CreateOptions } from "../options.js";
import { clusterTags, defaultPrivateDomain } from "./facts.js";
import { type LoadedTemplate, parseTemplateBody } from "./template.js";

/**
 * The CreateStack request: the template, the parameters it declares, what CloudFormation does on
 * failure, a token that makes retries idempotent, and the tags from which status, list, wait and
 * destroy recover the cluster.
 */
export function createStackInput(
  options: CreateOptions,
  template: LoadedTemplate,
  imageId: string,
  discoveryUrl: string,
): CreateStackCommandInput & { StackName: string } {
  const token = options.client_token ?? `pandacluster-create-${randomUUID()}`;
  const values: Record<string, string> = {
    InstanceType: options.instance_type,
    ClusterSize: String(options.cluster_size),
    Workers: String(options.workers ?? 0),
    PrivateDomain: options.private_domain ?? defaultPrivateDomain(options.stack_name),
    DiscoveryURL: discoveryUrl,
    KeyPair: options.key_pair,
    ImageId: imageId,
    VolumeSize: String(options.volume_size),
  };
  // Absent, the template's default applies: ours is empty, which opens no SSH rule.
  if (options.allow_ssh_from) values.AllowSSHFrom = options.allow_ssh_from;
  // The etcd version is sent, not left to the default, so that the stack's parameters always name it
  // (upgrade reads it from there, and keeps etcd's upgrade rules from it): the version the template
  // was built for, or a template file's own default.
  const etcdVersion =
    template.source === "built" ? options.etcd_version : fileDefault(template, "EtcdVersion");
  if (etcdVersion) values.EtcdVersion = etcdVersion;
  return {
    StackName: options.stack_name,
    TemplateBody: template.body,
    Parameters: Object.entries(values)
      .filter(([key]) => template.parameters.has(key))
      .map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    OnFailure: options.on_failure,
    // Makes the SDK's retries of this CreateStack idempotent, and marks the events it causes.
    ClientRequestToken: token,
    Tags: clusterTags({
      stack_name: options.stack_name,
      channel: options.channel,
      arch: options.arch,
      private_domain: options.private_domain ?? defaultPrivateDomain(options.stack_name),
      ...(options.public_domain ? { public_domain: options.public_domain } : {}),
      create_token: token,
    }),
    ...(template.needs_iam ? { Capabilities: ["CAPABILITY_IAM"] } : {}),
  };
}

/** A template file's default for a parameter, when it declares one as a string. */
function fileDefault(template: LoadedTemplate, name: string): string | undefined {
  if (!template.parameters.has(name)) return undefined;
  const parsed = parseTemplateBody(template.body) as { Parameters?: Record<string, { Default?: unknown }> };
  const value = parsed?.Parameters?.[name]?.Default;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The CreateStack input as it may be shown or stored: the template body summarised. */
export function printableRequest(
  input: CreateStackCommandInput,
  template: LoadedTemplate,
): Record<string, unknown> {
  const { TemplateBody: _body, ...rest } = input;
  const from = template.source === "file" ? `from ${template.path}` : "built by pandacluster";
  return { ...rest, TemplateBody: `<${template.bytes} bytes of template ${from}>` };
}
