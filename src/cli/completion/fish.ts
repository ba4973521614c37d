import { CLUSTER_CACHE_TTL_MINUTES } from "./cache.js";
import type { CommandModel, CompletionModel, FlagModel } from "./model.js";

/**
 * The fish script: `complete` rules, one per command and per flag, each with its description; a
 * flag's values as the rule's arguments (-x: a value and no file names, -r -F: a file name).
 */
export function fishScript(model: CompletionModel, header: string): string {
  const lines = [
    header,
    `function __pandacluster_clusters --description 'cluster names of the last pandacluster list'`,
    `    set -l file $HOME/.cache/pandacluster/clusters`,
    `    set -q XDG_CACHE_HOME; and test -n "$XDG_CACHE_HOME"; and set file $XDG_CACHE_HOME/pandacluster/clusters`,
    `    test -f $file; or return 0`,
    `    test -n "$(find $file -mmin -${CLUSTER_CACHE_TTL_MINUTES} 2>/dev/null)"; or return 0`,
    `    set -l region`,
    `    set -l tokens (commandline -opc)`,
    `    for i in (seq (count $tokens))`,
    `        switch $tokens[$i]`,
    `            case -r --region`,
    `                set -l next (math $i + 1)`,
    `                test $next -le (count $tokens); and set region $tokens[$next]`,
    `            case '--region=*'`,
    `                set region (string replace -- --region= '' $tokens[$i])`,
    `        end`,
    `    end`,
    `    while read -l line`,
    `        set -l parts (string split \\t -- $line)`,
    `        if test -z "$region"; or test "$parts[1]" = "$region"`,
    `            echo $parts[2]`,
    `        end`,
    `    end <$file`,
    `end`,
    "",
    "complete -c pandacluster -f",
    `complete -c pandacluster -n __fish_use_subcommand -l help -s h -d "print the tool's help"`,
    `complete -c pandacluster -n __fish_use_subcommand -l version -s V -d 'print the version'`,
    ...model.commands.map(
      (c) => `complete -c pandacluster -n __fish_use_subcommand -a ${c.name} -d ${quote(c.summary)}`,
    ),
    `complete -c pandacluster -n __fish_use_subcommand -a help -d 'print the help of the tool or of a command'`,
    `complete -c pandacluster -n __fish_use_subcommand -a completion -d 'print a shell completion script'`,
    `complete -c pandacluster -n '__fish_seen_subcommand_from help' -a ${quote([...model.commands.map((c) => c.name), "completion"].join(" "))}`,
    `complete -c pandacluster -n '__fish_seen_subcommand_from completion' -a ${quote(model.shells.join(" "))}`,
    ...model.commands.flatMap(commandRules),
    "",
  ];
  return lines.join("\n");
}

function commandRules(command: CommandModel): string[] {
  const when = `-n '__fish_seen_subcommand_from ${command.name}'`;
  return command.flags.map((flag) => {
    const short = flag.short ? ` -s ${flag.short.slice(1)}` : "";
    return `complete -c pandacluster ${when}${short} -l ${flag.long.slice(2)}${valueRule(flag)} -d ${quote(flag.description)}`;
  });
}

function valueRule(flag: FlagModel): string {
  switch (flag.value) {
    case "none":
      return "";
    case "choice":
      return ` -x -a ${quote((flag.choices ?? []).join(" "))}`;
    case "file":
      return " -r -F";
    case "cluster":
      return " -x -a '(__pandacluster_clusters)'";
    default:
      return " -x";
  }
}

/** A word in single quotes for fish: a backslash and a quote are escaped. */
function quote(word: string): string {
  return `'${word.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
