# bash completion for quarry(1)
_quarry() {
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} sub=${COMP_WORDS[2]}
	local cmds="research ask runs worker fetch extract index search models doctor mcp help version"
	local model="--provider --model --fast-model --base-url --config --allow-insecure-http"
	local research="--depth --breadth --max-sources --budget-tokens --budget-usd --time-limit --sources --lang --length --plan-only --format --output --events --detach --no-llm --allow-private --ignore-robots --no-cache --verbose --home $model"
	local opts=
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$cmds --help --version --color=" -- "$cur"))
		return
	fi
	case ${COMP_WORDS[COMP_CWORD-1]} in
	-o|--output|--events|--config|--home) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-f|--format) COMPREPLY=($(compgen -W "md html json text markdown" -- "$cur")); return ;;
	--provider) COMPREPLY=($(compgen -W "deepseek moonshot qwen openai openrouter ollama llamacpp vllm" -- "$cur")); return ;;
	--sources) COMPREPLY=($(compgen -W "web corpus searxng brave tavily serper" -- "$cur")); return ;;
	esac
	case $cmd in
	research) opts="$research" ;;
	ask) opts="${research/--detach /} --no-search --hide-reasoning --show-reasoning --system --max-tokens --temperature --json" ;;
	runs) [ "$COMP_CWORD" -eq 2 ] && opts="ls watch wait cancel show export resume rm" || opts="--format --output --json --verbose --home $model" ;;
	worker) opts="--jobs --idle-exit --lease --home $model" ;;
	fetch) opts="--format --jobs --timeout --connect-timeout --max-bytes --max-pdf-bytes --allow-private --ignore-robots" ;;
	extract) opts="--format --url --content-type --max-bytes"; [[ $cur != -* ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
	index) if [ "$COMP_CWORD" -eq 2 ]; then opts="add rm ls stats check rebuild"
		elif [[ ($sub == add || $sub == rm) && $cur != -* ]]; then COMPREPLY=($(compgen -f -- "$cur")); return
		else opts="--home --verbose --json --follow-symlinks"; fi ;;
	search) opts="-k --json --home" ;;
	models) opts="--json $model" ;;
	doctor) opts="--no-model-call --home $model" ;;
	mcp) opts="--home --no-llm --allow-private --no-cache $model" ;;
	help) opts="$cmds" ;;
	esac
	COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
}
complete -F _quarry quarry
