#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "usage.h"

static const char *const api_names[_USAGE_API_MAX] = {
        [USAGE_API_ANTHROPIC] = "anthropic",
        [USAGE_API_OPENAI_RESPONSES] = "openai-responses",
        [USAGE_API_OPENAI_CHAT] = "openai-chat",
        [USAGE_API_GEMINI] = "gemini",
};

const char *usage_api_to_string(usage_api a) {
        return a > USAGE_API_NONE && a < _USAGE_API_MAX ? api_names[a] : NULL;
}

usage_api usage_api_from_string(const char *s) {
        for (usage_api a = USAGE_API_NONE + 1; s && a < _USAGE_API_MAX; a++)
                if (strcmp(s, api_names[a]) == 0)
                        return a;
        return USAGE_API_NONE;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
        size_t n = strlen(suffix);

        return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

usage_api usage_api_for_request(const char *method, const char *path) {
        size_t len;

        if (!method || !path || strcmp(method, "POST") != 0)
                return USAGE_API_NONE;
        len = strlen(path);
        if (ends_with(path, len, "/v1/messages"))
                return USAGE_API_ANTHROPIC;
        if (ends_with(path, len, "/responses"))
                return USAGE_API_OPENAI_RESPONSES;
        if (ends_with(path, len, "/chat/completions"))
                return USAGE_API_OPENAI_CHAT;
        if (strstr(path, "/models/") && (ends_with(path, len, ":generateContent") ||
                                         ends_with(path, len, ":streamGenerateContent")))
                return USAGE_API_GEMINI;
        return USAGE_API_NONE;
}

typedef struct growing {
        char *data;
        size_t len, cap;
} growing;

/* Appends, up to MAX bytes in all: false (and nothing kept) past it. */
static bool growing_add(growing *g, const char *data, size_t len, size_t max) {
        if (len > max - g->len)
                return false;
        if (g->len + len + 1 > g->cap) {
                size_t cap = g->cap ? g->cap : 256;
                char *p;

                while (cap < g->len + len + 1)
                        cap *= 2;
                p = realloc(g->data, cap);
                if (!p)
                        return false;
                g->data = p;
                g->cap = cap;
        }
        memcpy(g->data + g->len, data, len);
        g->len += len;
        g->data[g->len] = '\0';
        return true;
}

static void growing_free(growing *g) {
        free(g->data);
        *g = (growing) {};
}

enum { MODE_UNDECIDED, MODE_JSON, MODE_SSE };

struct usage_parser {
        usage_api api;
        int mode;
        bool given_up;      /* compressed, too long, malformed: unknown, whatever comes */
        bool final;         /* the reply's last word on usage was read */
        bool finished;      /* Gemini: a candidate's finishReason was seen */
        usage_tokens acc;
        growing body;       /* MODE_JSON: the whole reply */
        growing line;       /* MODE_SSE: the line being read */
        bool line_too_long; /* its rest is skipped */
        growing data;       /* MODE_SSE: the event's data lines */
        bool event_too_long;
        char path_model[USAGE_MODEL_MAX];
};

static void set_model(char out[static USAGE_MODEL_MAX], const char *s, size_t n) {
        size_t len = 0;

        for (size_t i = 0; i < n && len < USAGE_MODEL_MAX - 1; i++)
                out[len++] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
        out[len] = '\0';
}

usage_parser *usage_parser_new(usage_api api, const char *path) {
        usage_parser *u = calloc(1, sizeof(*u));
        const char *m;

        if (!u)
                return NULL;
        u->api = api;
        /* Gemini names the model in the path: .../models/MODEL:generateContent */
        if (api == USAGE_API_GEMINI && path && (m = strstr(path, "/models/"))) {
                const char *colon;

                m += strlen("/models/");
                colon = strchr(m, ':');
                if (colon)
                        set_model(u->path_model, m, (size_t) (colon - m));
        }
        return u;
}

void usage_parser_free(usage_parser *u) {
        if (!u)
                return;
        growing_free(&u->body);
        growing_free(&u->line);
        growing_free(&u->data);
        free(u);
}

void usage_parser_encoded(usage_parser *u) {
        u->given_up = true;
}

/* A count: a whole number from 0 to 2^53. */
static bool count_of(const cJSON *o, const char *key, uint64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
            floor(v->valuedouble) != v->valuedouble)
                return false;
        *ret = (uint64_t) v->valuedouble;
        return true;
}

static void take_model(usage_parser *u, const cJSON *o, const char *key) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

        if (cJSON_IsString(m) && m->valuestring[0])
                set_model(u->acc.model, m->valuestring, strlen(m->valuestring));
}

/* Anthropic: {input_tokens, output_tokens, cache_read_input_tokens,
 * cache_creation_input_tokens}; message_start has them first, message_delta the last word. */
static void anthropic_usage(usage_parser *u, const cJSON *usage) {
        if (!cJSON_IsObject(usage))
                return;
        (void) count_of(usage, "input_tokens", &u->acc.input);
        (void) count_of(usage, "output_tokens", &u->acc.output);
        (void) count_of(usage, "cache_read_input_tokens", &u->acc.cache_read);
        (void) count_of(usage, "cache_creation_input_tokens", &u->acc.cache_write);
}

static void anthropic(usage_parser *u, const cJSON *o) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";

        if (strcmp(t, "message_start") == 0) {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");

                take_model(u, m, "model");
                anthropic_usage(u, cJSON_GetObjectItemCaseSensitive(m, "usage"));
        } else if (strcmp(t, "message_delta") == 0) {
                const cJSON *usage = cJSON_GetObjectItemCaseSensitive(o, "usage");

                anthropic_usage(u, usage);
                u->final |= cJSON_IsObject(usage) && count_of(usage, "output_tokens", &u->acc.output);
        } else if (strcmp(t, "message") == 0 || u->mode == MODE_JSON) {
                const cJSON *usage = cJSON_GetObjectItemCaseSensitive(o, "usage");

                take_model(u, o, "model");
                anthropic_usage(u, usage);
                u->final |= cJSON_IsObject(usage) && count_of(usage, "output_tokens", &u->acc.output);
        }
}

/* OpenAI: Responses' {input_tokens, output_tokens, input_tokens_details.cached_tokens} in the
 * reply or in the response of its last event; Chat's {prompt_tokens, completion_tokens,
 * prompt_tokens_details.cached_tokens}.  Their input counts the cached part too. */
static void openai(usage_parser *u, const cJSON *o) {
        const cJSON *r = o, *usage, *details;
        const char *in_key = "input_tokens", *out_key = "output_tokens", *details_key = "input_tokens_details";
        uint64_t in, out, cached = 0;

        if (u->api == USAGE_API_OPENAI_CHAT) {
                in_key = "prompt_tokens";
                out_key = "completion_tokens";
                details_key = "prompt_tokens_details";
        } else if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "response")))
                r = cJSON_GetObjectItemCaseSensitive(o, "response");
        take_model(u, r, "model");
        usage = cJSON_GetObjectItemCaseSensitive(r, "usage");
        if (!cJSON_IsObject(usage) || !count_of(usage, in_key, &in) || !count_of(usage, out_key, &out))
                return;
        details = cJSON_GetObjectItemCaseSensitive(usage, details_key);
        if (cJSON_IsObject(details))
                (void) count_of(details, "cached_tokens", &cached);
        if (cached > in)
                cached = in;
        u->acc.input = in - cached;
        u->acc.output = out;
        u->acc.cache_read = cached;
        u->acc.cache_write = 0;
        u->final = true;
}

/* Gemini: usageMetadata {promptTokenCount, candidatesTokenCount, cachedContentTokenCount,
 * thoughtsTokenCount}, in every streamed chunk, the last with a candidate's finishReason. */
static void gemini(usage_parser *u, const cJSON *o) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "usageMetadata"), *c;
        uint64_t prompt = 0, candidates = 0, cached = 0, thoughts = 0;

        take_model(u, o, "modelVersion");
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "candidates"))
                u->finished |= cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "finishReason"));
        if (!cJSON_IsObject(meta) || !count_of(meta, "promptTokenCount", &prompt))
                return;
        (void) count_of(meta, "candidatesTokenCount", &candidates);
        (void) count_of(meta, "cachedContentTokenCount", &cached);
        (void) count_of(meta, "thoughtsTokenCount", &thoughts);
        if (cached > prompt)
                cached = prompt;
        u->acc.input = prompt - cached;
        u->acc.output = candidates + thoughts;
        u->acc.cache_read = cached;
        u->acc.cache_write = 0;
        /* a whole reply's figures are its last; a stream's once a candidate finished, even
         * when its usage came in a chunk after that one */
        u->final = u->mode == MODE_JSON || u->finished;
}

static void apply(usage_parser *u, const cJSON *o) {
        if (!cJSON_IsObject(o))
                return;
        switch (u->api) {
        case USAGE_API_ANTHROPIC:
                anthropic(u, o);
                break;
        case USAGE_API_OPENAI_RESPONSES:
        case USAGE_API_OPENAI_CHAT:
                openai(u, o);
                break;
        case USAGE_API_GEMINI:
                gemini(u, o);
                break;
        default:
                break;
        }
}

/* A streamed event's data, whole.  Only one that speaks of usage (or, for Gemini, of the
 * answer's end) is parsed: the text of the answer streams in many more, which need none. */
static void sse_event(usage_parser *u) {
        cJSON *o;

        if (u->event_too_long) {
                /* dropped: were it the last word on usage, the reply ends without one */
                u->event_too_long = false;
                u->data.len = 0;
                return;
        }
        if (u->data.len == 0 ||
            (!strstr(u->data.data, "sage") && !(u->api == USAGE_API_GEMINI && strstr(u->data.data, "finishReason")))) {
                u->data.len = 0;
                return;
        }
        o = cJSON_ParseWithLength(u->data.data, u->data.len);
        u->data.len = 0;
        if (!o) {
                u->given_up = true; /* malformed: counted as unknown */
                return;
        }
        apply(u, o);
        cJSON_Delete(o);
}

static void sse_line(usage_parser *u, const char *line, size_t len) {
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0) {
                sse_event(u);
                return;
        }
        if (len >= 5 && memcmp(line, "data:", 5) == 0) {
                line += 5;
                len -= 5;
                if (len > 0 && line[0] == ' ')
                        line++, len--;
                if (u->event_too_long)
                        return;
                if ((u->data.len > 0 && !growing_add(&u->data, "\n", 1, USAGE_EVENT_MAX)) ||
                    !growing_add(&u->data, line, len, USAGE_EVENT_MAX))
                        u->event_too_long = true;
        }
        /* event:, id:, retry: and comments say nothing of usage */
}

static void sse_feed(usage_parser *u, const char *data, size_t len) {
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t) (nl - data) : len;

                if (!u->line_too_long && !growing_add(&u->line, data, n, USAGE_EVENT_MAX))
                        u->line_too_long = true;
                if (!nl)
                        return;
                if (u->line_too_long) {
                        /* a line past the limit: a data line's event is lost */
                        u->event_too_long = true;
                        u->line_too_long = false;
                } else
                        sse_line(u, u->line.data ?: "", u->line.len);
                u->line.len = 0;
                data += n + 1;
                len -= n + 1;
        }
}

void usage_parser_feed(usage_parser *u, const char *data, size_t len) {
        if (u->given_up || len == 0)
                return;
        if (u->mode == MODE_UNDECIDED) {
                size_t i = 0;

                while (i < len && strchr(" \t\r\n", data[i]))
                        i++;
                if (i == len)
                        return; /* blank so far */
                u->mode = data[i] == '{' || data[i] == '[' ? MODE_JSON : MODE_SSE;
        }
        if (u->mode == MODE_SSE)
                sse_feed(u, data, len);
        else if (!growing_add(&u->body, data, len, USAGE_BODY_MAX)) {
                u->given_up = true;
                growing_free(&u->body);
        }
}

void usage_parser_finish(usage_parser *u, usage_tokens *ret) {
        *ret = (usage_tokens) {};
        if (!u->given_up && u->mode == MODE_JSON && u->body.len > 0) {
                cJSON *o = cJSON_ParseWithLength(u->body.data, u->body.len), *item;

                if (!o)
                        u->given_up = true;
                else if (cJSON_IsArray(o)) /* Gemini's stream without alt=sse: a list of chunks */
                        cJSON_ArrayForEach(item, o) apply(u, item);
                else
                        apply(u, o);
                cJSON_Delete(o);
                growing_free(&u->body);
        } else if (!u->given_up && u->mode == MODE_SSE) {
                /* a last event without its blank line: the stream ended there */
                if (u->line.len > 0 && !u->line_too_long)
                        sse_line(u, u->line.data, u->line.len);
                u->line.len = 0;
                sse_event(u);
        }
        if (u->given_up || !u->final)
                return;
        *ret = u->acc;
        ret->known = true;
        if (!ret->model[0])
                memcpy(ret->model, u->path_model, sizeof(ret->model));
}
