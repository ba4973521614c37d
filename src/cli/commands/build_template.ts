import type { BuildTemplateOptions } from "../../options.js";
import { build_template } from "../../template/write.js";
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
  else
    notice(`wrote ${result.written_to} (${result.written_bytes} bytes; ${describeImages(result.image_map)})`);
  return 0;
};

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
