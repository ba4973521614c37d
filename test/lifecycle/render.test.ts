/** How progress and results look to a person: one line per event, a spinner only on a terminal. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { nodeTable } from "../../src/cli/render/nodes.js";
import { progressLine, progressPrinter } from "../../src/cli/render/progress.js";
import { formatSeconds } from "../../src/cli/render/time.js";
import { eventually } from "../helpers/harness.js";

function capture() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { stream, text: () => text };
}

const stackEvent = {
  time: new Date().toISOString(),
  step: "formation" as const,
  message: "VPC CREATE_COMPLETE",
  kind: "stack_event" as const,
  resource: "VPC",
  resource_type: "AWS::EC2::VPC",
  status: "CREATE_COMPLETE",
  elapsed: 62.4,
};

describe("progress lines", () => {
  it("show the elapsed time, the step, the resource and its status", () => {
    assert.equal(progressLine(stackEvent), `[ 1m02s] formation  ${"VPC".padEnd(30)} CREATE_COMPLETE`);
    assert.equal(
      progressLine({ ...stackEvent, status: "CREATE_FAILED", reason: "quota" }),
      `[ 1m02s] formation  ${"VPC".padEnd(30)} CREATE_FAILED  quota`,
    );
    assert.equal(
      progressLine({ time: "", step: "launch", message: "AWS is throttling", kind: "warning", elapsed: 3 }),
      "[  3.0s] launch     warning: AWS is throttling",
    );
  });

  it("format durations briefly", () => {
    assert.equal(formatSeconds(0.44), "0.4s");
    assert.equal(formatSeconds(65), "1m05s");
    assert.equal(formatSeconds(3725), "1h02m");
  });

  it("are plain lines when stderr is not a terminal", async () => {
    const out = capture();
    const progress = progressPrinter(out.stream, false);
    progress.onEvent(stackEvent);
    await new Promise((resolve) => setTimeout(resolve, 250));
    progress.stop();
    assert.equal(out.text(), `${progressLine(stackEvent)}\n`);
  });

  it("have a spinner below them on a terminal, cleared before each line and at the end", async () => {
    const out = capture();
    const progress = progressPrinter(out.stream, true);
    progress.onEvent(stackEvent);
    // Until the spinner has been drawn (a fixed 250 ms may hold no tick on a loaded machine).
    await eventually(
      async () => (/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] formation \d+\.\ds/.test(out.text()) ? true : undefined),
      30_000,
      "the spinner to be drawn",
    );
    progress.stop();
    const text = out.text();
    const clearLine = "\r\u001b[K";
    assert.ok(text.includes(clearLine), "the line is cleared before the spinner is drawn");
    assert.match(text.split(clearLine).join("|"), /\|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] formation \d+\.\ds/);
    assert.ok(text.endsWith(clearLine), "the spinner is wiped at the end");
    assert.ok(text.includes(`${progressLine(stackEvent)}\n`));
  });
});

describe("node table", () => {
  it("names each node by its DNS record, with its role (- when unknown)", () => {
    const nodes = [
      {
        instance_id: "i-1",
        availability_zone: "us-east-1a",
        private_ip: "10.0.0.4",
        public_ip: "203.0.113.4",
        private_dns: null,
        public_dns: null,
      },
      {
        instance_id: "i-2",
        role: "worker" as const,
        availability_zone: "us-east-1b",
        private_ip: "10.0.0.5",
        public_ip: null,
        private_dns: null,
        public_dns: null,
      },
    ];
    const dns = {
      private_zone_id: "Z",
      private_zone: "demo.cluster",
      public_name: null,
      records: [
        { name: "node-1.demo.cluster", type: "A" as const, values: ["10.0.0.4"] },
        { name: "node-2.demo.cluster", type: "A" as const, values: ["10.0.0.5"] },
        { name: "etcd.demo.cluster", type: "A" as const, values: ["10.0.0.4", "10.0.0.5"] },
      ],
    };
    assert.deepEqual(nodeTable(nodes, dns).split("\n"), [
      "  NAME                 ROLE    INSTANCE  ZONE        PRIVATE IP  PUBLIC IP",
      "  node-1.demo.cluster  -       i-1       us-east-1a  10.0.0.4    203.0.113.4",
      "  node-2.demo.cluster  worker  i-2       us-east-1b  10.0.0.5    -",
    ]);
  });
});
