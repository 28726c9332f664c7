/* Token usage in the answers of model APIs (issue 25): what a run's proxy reads, as the bytes
 * pass, from the replies of Anthropic Messages, OpenAI Responses and Chat Completions and
 * Gemini generateContent, whole JSON or streamed events (SSE).
 *
 * Pure: bytes in, figures out; no sockets.  The data comes from the network: memory is
 * bounded (a JSON reply past USAGE_BODY_MAX, an event past USAGE_EVENT_MAX is given up), a
 * malformed, truncated or compressed reply is "unknown", never an error of the stream's.
 * JSON is cJSON's to parse; SSE framing is a line splitter here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum usage_api {
        USAGE_API_NONE,
        USAGE_API_ANTHROPIC,        /* POST .../v1/messages */
        USAGE_API_OPENAI_RESPONSES, /* POST .../responses */
        USAGE_API_OPENAI_CHAT,      /* POST .../chat/completions */
        USAGE_API_GEMINI,           /* POST .../models/MODEL:generateContent or :streamGenerateContent */
        _USAGE_API_MAX,
} usage_api;

/* "anthropic", "openai-responses", "openai-chat", "gemini"; NULL for none. */
const char *usage_api_to_string(usage_api a);
usage_api usage_api_from_string(const char *s);

/* Which API a request is for, by its method and path (without the query). */
usage_api usage_api_for_request(const char *method, const char *path);

#define USAGE_BODY_MAX (1 << 20)  /* a whole JSON reply */
#define USAGE_EVENT_MAX (1 << 20)  /* one streamed event */
#define USAGE_MODEL_MAX 96

/* Tokens as moat counts them, whatever the API calls them: input not read from a cache,
 * output (reasoning included), input read from a cache, input written to one. */
typedef struct usage_tokens {
        bool known;                      /* the reply said; else everything below is 0 */
        char model[USAGE_MODEL_MAX];     /* printable; "" when the reply did not say */
        uint64_t input, output, cache_read, cache_write;
} usage_tokens;

typedef struct usage_parser usage_parser;

/* A parser of one reply to a request for API at PATH (Gemini names the model there).  NULL
 * when out of memory. */
usage_parser *usage_parser_new(usage_api api, const char *path);
void usage_parser_free(usage_parser *u);

/* The reply's body is compressed (Content-Encoding): its usage is unknown. */
void usage_parser_encoded(usage_parser *u);

/* Bytes of the reply's body, as they come (unchunked). */
void usage_parser_feed(usage_parser *u, const char *data, size_t len);

/* What the reply said, once its body ended (or the connection did). */
void usage_parser_finish(usage_parser *u, usage_tokens *ret);
