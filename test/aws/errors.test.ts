import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { awsFailure, awsMessage, isTransient, regionWithoutEndpoint } from "../../src/aws/errors.js";
import { ExitCode, UsageError } from "../../src/errors.js";

/**
 * MOCK (recorded shape): what the SDK rejects with when a region's endpoint does not resolve, as
 * recorded from `pandacluster status -r xx-nowhere-9` (Node's getaddrinfo error, passed through by
 * the SDK's HTTP handler with $metadata added). The emulator answers every region and the tests
 * have no internet, so neither can show it.
 */
function dnsFailure(host: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {
    errno: -3008,
    code: "ENOTFOUND",
    syscall: "getaddrinfo",
    hostname: host,
    $metadata: { attempts: 1, totalRetryDelay: 0 },
  });
}

describe("a region that matches the pattern but has no AWS endpoint", () => {
  const made = dnsFailure("cloudformation.xx-nowhere-9.amazonaws.com");

  it("is bad input naming the region, exit 2, not a network error to wait out", () => {
    assert.deepEqual(regionWithoutEndpoint(made), {
      region: "xx-nowhere-9",
      host: "cloudformation.xx-nowhere-9.amazonaws.com",
    });
    const failure = awsFailure("reading the status of x", made);
    assert.ok(failure instanceof UsageError);
    assert.equal(failure.exitCode, ExitCode.usage);
    assert.match(
      failure.message,
      /^region xx-nowhere-9: AWS has no endpoint there \(cloudformation\.xx-nowhere-9\./,
    );
    assert.equal(awsMessage(made), failure.message);
    assert.equal(isTransient(made), false);
  });

  it("a region the SDK knows stays a network failure (resolvers without network say ENOTFOUND too)", () => {
    const offline = dnsFailure("cloudformation.us-east-1.amazonaws.com");
    assert.equal(regionWithoutEndpoint(offline), undefined);
    const failure = awsFailure("reading the status of x", offline);
    assert.equal(failure.exitCode, ExitCode.failed);
    assert.match(failure.message, /cannot reach AWS/);
    assert.equal(isTransient(offline), true);
  });

  it("a name outside amazonaws.com (AWS_ENDPOINT_URL) is not blamed on the region", () => {
    const other = dnsFailure("moto.invalid");
    assert.equal(regionWithoutEndpoint(other), undefined);
    assert.match(awsMessage(other), /cannot reach AWS/);
  });

  it("other errors are unchanged", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    assert.equal(regionWithoutEndpoint(refused), undefined);
    assert.equal(regionWithoutEndpoint(undefined), undefined);
  });
});
