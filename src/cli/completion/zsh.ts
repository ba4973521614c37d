import { CLUSTER_CACHE_TTL_MINUTES } from "./cache.js";
import type { CommandModel, CompletionModel, FlagModel } from "./model.js";

/**
 * The zsh script: a completion function for compinit. Installed in a folder of $fpath as _pandacluster
 * it is autoloaded (`#compdef`); sourced, it registers itself with compdef. Candidates go to compadd
 * with a description each (shown in the listing); file values go to _files.
 */
export function zshScript(model: CompletionModel, header: string): string {
  const top: [string, string][] = [
    ...model.commands.map((c): [string, string] => [c.name, c.summary]),
    ["help", "print the help of the tool or of a command"],
    ["completion", "print a shell completion script (bash, zsh, fish)"],
    ["--help", "print the tool's help"],
    ["--version", "print the version"],
  ];
  return `#compdef pandacluster
${header}
_pandacluster_clusters() {
  local file="\${XDG_CACHE_HOME:-$HOME/.cache}/pandacluster/clusters" region="$1" r n
  [[ -f $file && -n $(find "$file" -mmin -${CLUSTER_CACHE_TTL_MINUTES} 2>/dev/null) ]] || return 0
  while IFS=$'\\t' read -r r n; do
    [[ -z $region || $r == "$region" ]] && print -r -- "$n"
  done <"$file"
}

_pandacluster() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" command="\${words[2]}" region="" i
  local -a candidates descriptions
  if ((CURRENT == 2)); then
${assign(
  "candidates",
  top.map(([w]) => w),
  4,
)}
${assign("descriptions", described(top), 4)}
    compadd -l -d descriptions -a candidates
    return
  fi
  for ((i = 3; i < CURRENT; i++)); do
    case "\${words[i]}" in
      -r | --region) region="\${words[i + 1]}" ;;
      --region=*) region="\${words[i]#--region=}" ;;
    esac
  done
  case "$command" in
    help)
      ((CURRENT == 3)) || return
${assign("candidates", [...model.commands.map((c) => c.name), "completion"], 6)}
      compadd -a candidates
      return
      ;;
    completion)
      ((CURRENT == 3)) || return
${assign("candidates", model.shells, 6)}
      compadd -a candidates
      return
      ;;
${model.commands.map(commandCase).join("\n")}
    *) return ;;
  esac
  compadd -l -d descriptions -a candidates
}

if [[ "\${funcstack[1]}" == _pandacluster ]]; then
  _pandacluster "$@"
else
  compdef _pandacluster pandacluster
fi
`;
}

function commandCase(command: CommandModel): string {
  const valueCases = command.flags
    .filter((f) => f.value !== "none")
    .map((f) => `        ${names(f).join(" | ")})\n${valueAction(f)}\n          ;;`);
  const flags = command.flags.flatMap((f) => names(f).map((n): [string, string] => [n, f.description]));
  return `    ${command.name})
      case "$prev" in
${valueCases.join("\n")}
      esac
${assign(
  "candidates",
  flags.map(([n]) => n),
  6,
)}
${assign("descriptions", described(flags), 6)}
      ;;`;
}

function names(flag: FlagModel): string[] {
  return flag.short ? [flag.short, flag.long] : [flag.long];
}

function valueAction(flag: FlagModel): string {
  const pad = "          ";
  switch (flag.value) {
    case "choice":
      return `${assign("candidates", flag.choices ?? [], 10)}\n${pad}compadd -a candidates\n${pad}return`;
    case "file":
      return `${pad}_files\n${pad}return`;
    case "cluster":
      return `${pad}candidates=(\${(f)"$(_pandacluster_clusters "$region")"})\n${pad}compadd -a candidates\n${pad}return`;
    default:
      // A value only the user knows (a key pair, a URL…): offer nothing rather than flags.
      return `${pad}return`;
  }
}

/** Listing lines: the word, padded, then "-- what it is". */
function described(entries: [string, string][]): string[] {
  const width = Math.max(...entries.map(([w]) => w.length));
  return entries.map(([w, d]) => `${w.padEnd(width)}  -- ${d}`);
}

function assign(name: string, values: string[], indent: number): string {
  const pad = " ".repeat(indent);
  return `${pad}${name}=(\n${values.map((v) => `${pad}  ${quote(v)}`).join("\n")}\n${pad})`;
}

/** A word in single quotes: only a quote itself needs care. */
function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
