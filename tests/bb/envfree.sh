# Black-box cases for where configuration is resolved: the front end reads
# the environment (and hands it to the core); the build's env-check keeps
# getenv out of the core.

# The config file is found through the environment the CLI passes on.
EH="$TMP/envfree"
mkdir -p "$EH"
printf 'model = from-the-file\nprovider = custom\nbase_url = http://127.0.0.1:9/v1\n' > "$EH/conf"
run envfree-config-from-env env QUARRY_CONFIG="$EH/conf" "$Q" models
rc_is 0; out_has "from-the-file"
# The environment still beats the file, through the snapshot.
run envfree-env-beats-file env QUARRY_CONFIG="$EH/conf" QUARRY_LLM_MODEL=from-the-env "$Q" models
rc_is 0; out_has "from-the-env"; out_lacks "from-the-file"
