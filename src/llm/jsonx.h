/*
 * jsonx.h - JSON out of whatever a model wrote.
 *
 * Models without structured output wrap JSON in prose, Markdown fences
 * and reasoning (<think>...</think> from DeepSeek R1, QwQ and others),
 * and make small mistakes. jsonx_extract:
 *   1. drops reasoning blocks (an unclosed <think> runs to the end);
 *   2. prefers the inside of a ```json fence when there is one;
 *   3. takes the first balanced object or array, closing it if the
 *      output was cut off;
 *   4. repairs: comments, trailing commas, single-quoted and curly-quoted
 *      strings, unquoted keys, Python's True/False/None, raw newlines in
 *      strings;
 *   5. parses with jansson.
 * What it cannot make sense of gets a message fit to send back to the
 * model in a corrective retry. Pure functions, thread-safe.
 */
#ifndef Q_JSONX_H
#define Q_JSONX_H

#include <jansson.h>
#include <stddef.h>

#include "../core/err.h"
#include "../core/qbuf.h"

#define JSONX_MAX_INPUT_BYTES (16 * 1024 * 1024)
#define JSONX_MAX_DEPTH 256

/* Append text without <think>...</think> blocks to answer and their
 * contents to reasoning (which may be NULL). Returns answer->err. */
int jsonx_split_reasoning(const char *text, size_t n, struct qbuf *answer, struct qbuf *reasoning);

/* The first JSON object or array in text, repaired; NULL with err set
 * (Q_EPARSE with a reason, Q_ETOOBIG). The caller owns the reference. */
json_t *jsonx_extract(const char *text, size_t n, struct q_error *err);

#endif
