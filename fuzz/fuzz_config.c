/* libFuzzer target: the config file parser. */
#include <stddef.h>
#include <stdint.h>

#include "../src/core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct q_error err = {0};

	if (config_parse(&c, (const char *)data, size, "fuzz", &err) == 0) {
		config_get(&c, "provider");
		config_get(&c, "price.gpt-4.1");
		for (size_t i = 0; i < c.n; i++)
			config_key_known(c.entries[i].key);
		config_release(&c);
	}
	return 0;
}
