import type { Arch } from "./options.js";

/**
 * What an EC2 instance type's name says about its CPU. The rule (AWS's own naming scheme): a type is
 * <family>.<size>, a family is a series (letters), a generation (digits) and attributes (letters).
 * An attribute that starts with "g" after the generation means AWS Graviton, arm64: m6g, m7gd, c7gn,
 * t4g, r8g, x2gd, im4gn, is4gen, g5g, hpc7g (and a1, the first Graviton, alone). Every other family
 * of a known series is x86_64 (amd64): t3, m7i, c7a, r6id, g4dn, p5, inf2… A series we do not know
 * is refused with a hint (it is most likely a typo: AWS would fail the stack after it was created);
 * the retired m1, m2, m3, c1 and t1 families are refused too.
 */
const series = new Set([
  "a",
  "c",
  "d",
  "dl",
  "f",
  "g",
  "gr",
  "h",
  "hpc",
  "i",
  "im",
  "inf",
  "is",
  "m",
  "mac",
  "p",
  "r",
  "t",
  "trn",
  "u",
  "vt",
  "x",
  "z",
]);
const retired = new Set(["m1", "m2", "m3", "c1", "t1", "cc2", "cr1", "cg1", "hi1", "hs1"]);

export type InstanceTypeCheck = { arch: Arch } | { problem: string };

export function instanceTypeArch(type: string): InstanceTypeCheck {
  const family = type.split(".")[0] ?? "";
  const parts = /^([a-z]+)(\d+)([a-z]*)/.exec(family.replace(/^u-/, "u"));
  if (!parts || !series.has(parts[1] as string)) {
    return {
      problem: `"${type}" is not a known EC2 instance type family (current families include t3, m7i, c7a, r7i for amd64 and t4g, m7g, c7g, r8g for arm64)`,
    };
  }
  if (retired.has(family)) {
    return {
      problem: `"${type}" is a retired previous-generation family; use a current one such as t3 or m7i`,
    };
  }
  const arm = family === "a1" || (parts[3] ?? "").startsWith("g");
  return { arch: arm ? "arm64" : "amd64" };
}
