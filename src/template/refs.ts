import type { CfnValue } from "./types.js";

/**
 * Every string of a CloudFormation value with the marker cut out and {Ref: parameter} put in its
 * place (Fn::Join with "", so every other byte is copied as it was written; inside an Fn::Join list
 * the pieces are spliced in rather than nested). Used where a boot config is built with a stand-in
 * for a parameter's value: the workers' PrivateDomain, the controllers' EtcdVersion.
 */
export function withRef(value: CfnValue, marker: string, parameter: string): CfnValue {
  if (typeof value === "string") {
    if (!value.includes(marker)) return value;
    const joined: CfnValue[] = [];
    value.split(marker).forEach((part, i) => {
      if (i > 0) joined.push({ Ref: parameter });
      if (part) joined.push(part);
    });
    return { "Fn::Join": ["", joined] };
  }
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const replaced = withRef(item, marker, parameter);
      return typeof item === "string" &&
        typeof replaced === "object" &&
        replaced !== null &&
        "Fn::Join" in replaced
        ? ((replaced as { "Fn::Join": [string, CfnValue[]] })["Fn::Join"][1] as CfnValue[])
        : [replaced];
    });
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withRef(v, marker, parameter)]));
  }
  return value;
}

/** Whether a value holds {Ref: parameter} somewhere (and so takes the parameter's value). */
export function refersTo(value: CfnValue, parameter: string): boolean {
  return JSON.stringify(value).includes(JSON.stringify({ Ref: parameter }));
}
