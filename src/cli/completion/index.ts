import { ExitCode } from "../../errors.js";
import { packageVersion } from "../../paths.js";
import { helpPointer } from "../help.js";
import { bashScript } from "./bash.js";
import { CLUSTER_CACHE_TTL_MINUTES } from "./cache.js";
import { fishScript } from "./fish.js";
import { completionModel, regionPattern, SHELLS } from "./model.js";
import { sdkRegions } from "./regions.js";
import { zshScript } from "./zsh.js";

const writers: Record<string, typeof bashScript> = { bash: bashScript, zsh: zshScript, fish: fishScript };

const install: Record<string, string> = {
  bash: "source <(pandacluster completion bash)    # in ~/.bashrc",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a zsh parameter, printed as it is
  zsh: 'pandacluster completion zsh > "${fpath[1]}/_pandacluster"    # then: compinit',
  fish: "pandacluster completion fish > ~/.config/fish/completions/pandacluster.fish",
};

/** `pandacluster completion bash|zsh|fish`: the shell's completion script on stdout. */
export async function runCompletion(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const [shell, ...rest] = argv;
  if (shell === undefined || !SHELLS.includes(shell) || rest.length > 0) {
    const what =
      shell === undefined
        ? "which shell? "
        : rest.length > 0
          ? `unexpected argument "${rest[0]}": `
          : `no completion for "${shell}": `;
    err.write(`error: ${what}use one of ${SHELLS.join(", ")}\n${helpPointer("completion")}\n`);
    return ExitCode.usage;
  }
  const model = completionModel(await sdkRegions(regionPattern()));
  const header = [
    `# ${shell} completion for pandacluster ${packageVersion()}, written by \`pandacluster completion ${shell}\``,
    `# from its argument definitions. Install: ${install[shell]}`,
    `# Cluster names come from the last \`pandacluster list\` (kept ${CLUSTER_CACHE_TTL_MINUTES} minutes), never from AWS.`,
  ].join("\n");
  out.write((writers[shell] as typeof bashScript)(model, header));
  return ExitCode.ok;
}
