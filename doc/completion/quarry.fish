# fish completion for quarry(1)
set -l cmds research ask runs worker fetch extract index search models doctor mcp help version
complete -c quarry -f
complete -c quarry -n "not __fish_seen_subcommand_from $cmds" -a "$cmds"
complete -c quarry -l color -xa "auto always never" -d "colour output"
complete -c quarry -l help -s h -d "show help"
for c in research ask
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l depth -x -d "rounds"
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l breadth -x -d "queries per round"
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l max-sources -x
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l budget-tokens -x
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l budget-usd -x
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l time-limit -x
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l sources -xa "web corpus searxng brave tavily serper"
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l lang -x
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l events -rF
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l no-llm
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l allow-private
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l ignore-robots
	complete -c quarry -n "__fish_seen_subcommand_from $c" -l no-cache
	complete -c quarry -n "__fish_seen_subcommand_from $c" -s v -l verbose
end
complete -c quarry -n "__fish_seen_subcommand_from research" -l detach -d "queue it for a worker"
complete -c quarry -n "__fish_seen_subcommand_from runs" -s v -l verbose
complete -c quarry -n "__fish_seen_subcommand_from worker" -s j -l jobs -x -d "runs at once"
complete -c quarry -n "__fish_seen_subcommand_from worker" -l idle-exit -x
complete -c quarry -n "__fish_seen_subcommand_from worker" -l lease -x
for o in no-search hide-reasoning show-reasoning json
	complete -c quarry -n "__fish_seen_subcommand_from ask" -l $o
end
for o in system max-tokens temperature
	complete -c quarry -n "__fish_seen_subcommand_from ask" -l $o -x
end
complete -c quarry -n "__fish_seen_subcommand_from research ask runs" -s f -l format -xa "md html json"
complete -c quarry -n "__fish_seen_subcommand_from research ask runs" -s o -l output -rF
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker models doctor" -l provider -xa "deepseek moonshot qwen openai openrouter ollama llamacpp vllm"
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker models doctor" -s m -l model -x
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker models doctor" -l fast-model -x
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker models doctor" -l base-url -x
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker models doctor" -l config -rF
complete -c quarry -n "__fish_seen_subcommand_from research ask runs worker index search doctor" -l home -xa "(__fish_complete_directories)"
complete -c quarry -n "__fish_seen_subcommand_from runs; and not __fish_seen_subcommand_from ls watch wait cancel show export resume rm" -a "ls watch wait cancel show export resume rm"
complete -c quarry -n "__fish_seen_subcommand_from index; and not __fish_seen_subcommand_from add rm ls stats check rebuild" -a "add rm ls stats check rebuild"
complete -c quarry -n "__fish_seen_subcommand_from index; and __fish_seen_subcommand_from add rm" -F
complete -c quarry -n "__fish_seen_subcommand_from index search models" -l json
complete -c quarry -n "__fish_seen_subcommand_from index" -s v -l verbose
complete -c quarry -n "__fish_seen_subcommand_from search" -s k -x
complete -c quarry -n "__fish_seen_subcommand_from fetch extract" -s f -l format -xa "text markdown json"
complete -c quarry -n "__fish_seen_subcommand_from fetch" -s j -l jobs -x
complete -c quarry -n "__fish_seen_subcommand_from fetch" -l timeout -x
complete -c quarry -n "__fish_seen_subcommand_from fetch" -l connect-timeout -x
complete -c quarry -n "__fish_seen_subcommand_from fetch" -l max-pdf-bytes -x
complete -c quarry -n "__fish_seen_subcommand_from fetch extract" -l max-bytes -x
complete -c quarry -n "__fish_seen_subcommand_from fetch" -l allow-private
complete -c quarry -n "__fish_seen_subcommand_from fetch" -l ignore-robots
complete -c quarry -n "__fish_seen_subcommand_from extract" -l url -x
complete -c quarry -n "__fish_seen_subcommand_from extract" -l content-type -x
complete -c quarry -n "__fish_seen_subcommand_from extract" -F
complete -c quarry -n "__fish_seen_subcommand_from doctor" -l no-model-call
complete -c quarry -n "__fish_seen_subcommand_from mcp" -l home -xa "(__fish_complete_directories)"
complete -c quarry -n "__fish_seen_subcommand_from mcp" -l no-llm
complete -c quarry -n "__fish_seen_subcommand_from mcp" -l allow-private
complete -c quarry -n "__fish_seen_subcommand_from mcp" -l no-cache
complete -c quarry -n "__fish_seen_subcommand_from help" -a "$cmds"
