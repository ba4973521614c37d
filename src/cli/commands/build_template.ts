import type { BuildTemplateOptions } from "../../options.js";
import { thousands } from "../../template/boot.js";
import { TEMPLATE_BODY_LIMIT } from "../../template/build.js";
import { userDataSummary } from "../../template/measure.js";
import { type BuildTemplateResult, build_template } from "../../template/write.js";
import type { CommandHandler } from "../context.js";

export const run: CommandHandler<BuildTemplateOptions> = async (options, context) => {
  const notice = (line: string) => context.stderr.write(`${line}\n`);
  const toStdout = options.write_path === "-";
  const result = await build_template(
    { ...options, write_path: toStdout ? false : options.write_path },
    context.config().config,
    { notice },
  );
  if (toStdout) context.stdout.write(`${JSON.stringify(result.template, null, 2)}\n`);
  const where = toStdout ? "wrote the template to standard output" : `wrote ${result.written_to}`;
  notice(`${where} (${sizes(result)}; ${describeImages(result.image_map)})`);
  return 0;
};

/**
 * Sizes a user can check: the file's bytes (`wc -c`), the TemplateBody that CreateStack sends
 * (compact JSON, what CloudFormation's limit counts) and the user data EC2 gets (before base64).
 */
function sizes(result: BuildTemplateResult): string {
  const n = thousands;
  // The bytes written, not a stat: a FIFO or a device written through has no size of its own.
  const file = result.written_bytes !== undefined ? `${n(result.written_bytes)} bytes in the file; ` : "";
  const data = result.user_data;
  const how =
    data.encoding === "gzip-merge"
      ? `, gzip-merged from ${n(data.plain_bytes)}`
      : data.encoding === "gzip"
        ? `, gzipped from ${n(data.plain_bytes)}`
        : "";
  return (
    `${file}TemplateBody ${n(result.bytes)} of ${n(TEMPLATE_BODY_LIMIT)} bytes; ` +
    `${data.provisioning} user data ${n(data.bytes)} of ${n(data.limit)} bytes${how}, ` +
    `with a ${data.discovery_url_length}-character discovery URL; ` +
    `each launch template's user data (with the longest PrivateDomain it accepts): ${userDataSummary(result.launch_templates)}`
  );
}

function describeImages(map: {
  source: string;
  channel: string;
  arch: string;
  version?: string;
  regions: number;
}) {
  if (map.source !== "feed") return "no image map: give the image id when creating";
  const version = map.version ? ` ${map.version}` : "";
  return `Flatcar ${map.channel}${version} ${map.arch} images for ${map.regions} regions`;
}
