import { CLUSTER_CACHE_TTL_MINUTES } from "./cache.js";
import type { CommandModel, CompletionModel, FlagModel } from "./model.js";

/**
 * The bash script: one function that `complete -F` calls with COMP_WORDS/COMP_CWORD set. It needs
 * nothing but bash (not the bash-completion package). Values come from the definitions; -n of a
 * command on an existing cluster completes from the last `list` (the cache file, if fresher than
 * the TTL), never from AWS.
 */
export function bashScript(model: CompletionModel, header: string): string {
  const top = [...model.commands.map((c) => c.name), "help", "completion", "--help", "--version"];
  return `${header}
_pandacluster_clusters() {
  local file="\${XDG_CACHE_HOME:-$HOME/.cache}/pandacluster/clusters" region="$1" r n
  [[ -f $file && -n $(find "$file" -mmin -${CLUSTER_CACHE_TTL_MINUTES} 2>/dev/null) ]] || return 0
  while IFS=$'\\t' read -r r n; do
    [[ -z $region || $r == "$region" ]] && printf '%s\\n' "$n"
  done <"$file"
}

_pandacluster() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local command="\${COMP_WORDS[1]}" flags="" region="" i
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    mapfile -t COMPREPLY < <(compgen -W '${top.join(" ")}' -- "$cur")
    return 0
  fi
  for ((i = 2; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      -r | --region) region="\${COMP_WORDS[i + 1]}" ;;
      --region=*) region="\${COMP_WORDS[i]#--region=}" ;;
    esac
  done
  case "$command" in
    help)
      ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W '${[...model.commands.map((c) => c.name), "completion"].join(" ")}' -- "$cur")
      return 0
      ;;
    completion)
      ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W '${model.shells.join(" ")}' -- "$cur")
      return 0
      ;;
${model.commands.map(commandCase).join("\n")}
    *) return 0 ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
}

complete -F _pandacluster pandacluster
`;
}

function commandCase(command: CommandModel): string {
  const valueCases = command.flags
    .filter((f) => f.value !== "none")
    .map((f) => `        ${names(f).join(" | ")}) ${valueAction(f)} ;;`);
  const flags = command.flags.flatMap(names);
  return `    ${command.name})
      case "$prev" in
${valueCases.join("\n")}
      esac
      flags='${flags.join(" ")}'
      ;;`;
}

function names(flag: FlagModel): string[] {
  return flag.short ? [flag.short, flag.long] : [flag.long];
}

function valueAction(flag: FlagModel): string {
  switch (flag.value) {
    case "choice":
      return `mapfile -t COMPREPLY < <(compgen -W '${(flag.choices ?? []).join(" ")}' -- "$cur"); return 0`;
    case "file":
      return `compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0`;
    case "cluster":
      return `mapfile -t COMPREPLY < <(compgen -W "$(_pandacluster_clusters "$region")" -- "$cur"); return 0`;
    default:
      // A value only the user knows (a key pair, a URL…): offer nothing rather than flags.
      return "return 0";
  }
}
