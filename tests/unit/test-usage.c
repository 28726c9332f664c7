/* lib/usage.c: the token usage of model APIs' answers, whole and streamed, fed at once and a
 * byte at a time; malformed, truncated, compressed and oversized answers are unknown. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "usage.h"

/* BODY's usage as parsed from the answer to a request for API at PATH, fed in pieces of STEP
 * bytes (0: at once). */
static usage_tokens parse(usage_api api, const char *path, const char *body, size_t step) {
        usage_parser *u = usage_parser_new(api, path);
        usage_tokens t;
        size_t len = strlen(body);

        if (!u)
                abort();
        if (step == 0)
                usage_parser_feed(u, body, len);
        else
                for (size_t i = 0; i < len; i += step)
                        usage_parser_feed(u, body + i, len - i < step ? len - i : step);
        usage_parser_finish(u, &t);
        usage_parser_free(u);
        return t;
}

static void expect(usage_api api, const char *path, const char *body, const char *model, uint64_t in, uint64_t out,
                   uint64_t cr, uint64_t cw, const char *what) {
        static const size_t steps[] = { 0, 1, 7 };

        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                usage_tokens t = parse(api, path, body, steps[i]);

                ok(t.known && strcmp(t.model, model) == 0 && t.input == in && t.output == out && t.cache_read == cr &&
                           t.cache_write == cw,
                   "%s (fed %zu at a time): known=%d model=%s %llu/%llu/%llu/%llu", what, steps[i], t.known, t.model,
                   (unsigned long long) t.input, (unsigned long long) t.output, (unsigned long long) t.cache_read,
                   (unsigned long long) t.cache_write);
        }
}

static void expect_unknown(usage_api api, const char *path, const char *body, const char *what) {
        usage_tokens t = parse(api, path, body, 0), t1 = parse(api, path, body, 1);

        ok(!t.known && !t1.known && t.input == 0 && t.model[0] == '\0', "%s: unknown", what);
}

static void test_api_for_request(void) {
        is_int(usage_api_for_request("POST", "/v1/messages"), USAGE_API_ANTHROPIC, "Anthropic Messages");
        is_int(usage_api_for_request("POST", "/v1/messages/count_tokens"), USAGE_API_NONE, "not count_tokens");
        is_int(usage_api_for_request("GET", "/v1/messages"), USAGE_API_NONE, "POST only");
        is_int(usage_api_for_request("POST", "/v1/responses"), USAGE_API_OPENAI_RESPONSES, "OpenAI Responses");
        is_int(usage_api_for_request("POST", "/backend-api/codex/responses"), USAGE_API_OPENAI_RESPONSES,
               "ChatGPT's Codex Responses");
        is_int(usage_api_for_request("POST", "/v1/chat/completions"), USAGE_API_OPENAI_CHAT, "OpenAI Chat");
        is_int(usage_api_for_request("POST", "/v1beta/models/gemini-2.5-pro:generateContent"), USAGE_API_GEMINI,
               "Gemini generateContent");
        is_int(usage_api_for_request("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent"), USAGE_API_GEMINI,
               "Gemini streamGenerateContent");
        is_int(usage_api_for_request("POST", "/v1beta/models/gemini-2.5-pro:countTokens"), USAGE_API_NONE,
               "not countTokens");
        is_int(usage_api_for_request(NULL, NULL), USAGE_API_NONE, "nothing");
        is_str(usage_api_to_string(USAGE_API_OPENAI_CHAT), "openai-chat", "names");
        is_int(usage_api_from_string("gemini"), USAGE_API_GEMINI, "and back");
        is_int(usage_api_from_string("nope"), USAGE_API_NONE, "an unknown name");
        ok(usage_api_to_string(USAGE_API_NONE) == NULL, "none has no name");
}

static const char anthropic_json[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":5,"
        "\"cache_creation_input_tokens\":2,\"cache_read_input_tokens\":3,\"output_tokens\":7}}";

static const char anthropic_sse[] =
        "event: message_start\r\n"
        "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,"
        "\"cache_creation_input_tokens\":2,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\r\n\r\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n"
        ": a comment\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";

static void test_anthropic(void) {
        expect(USAGE_API_ANTHROPIC, "/v1/messages", anthropic_json, "claude-x", 5, 7, 3, 2, "Anthropic JSON");
        expect(USAGE_API_ANTHROPIC, "/v1/messages", anthropic_sse, "claude-x", 5, 7, 3, 2, "Anthropic SSE");
        /* the stream cut before message_delta: message_start's figures are not the last word */
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages",
                       "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\","
                       "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
                       "Anthropic SSE cut before its last usage");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages",
                       "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":",
                       "Anthropic SSE cut inside its usage");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages",
                       "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":}}}\n\n",
                       "Anthropic SSE with a malformed usage event");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages", "{\"type\":\"message\",\"usage\":{\"input_tokens\":1O}}",
                       "Anthropic JSON malformed");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages", "{\"type\":\"message\",\"usage\":{\"input_tokens\":10,",
                       "Anthropic JSON truncated");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages", "{\"type\":\"error\",\"error\":{}}", "an error, no usage");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages",
                       "{\"type\":\"message\",\"usage\":{\"input_tokens\":-1,\"output_tokens\":2.5}}", "not counts");
        expect_unknown(USAGE_API_ANTHROPIC, "/v1/messages", "", "an empty body");
}

static void test_openai(void) {
        expect(USAGE_API_OPENAI_RESPONSES, "/v1/responses",
               "{\"object\":\"response\",\"model\":\"gpt-x\",\"output\":[],\"usage\":{\"input_tokens\":8,"
               "\"input_tokens_details\":{\"cached_tokens\":3},\"output_tokens\":7,\"total_tokens\":15}}",
               "gpt-x", 5, 7, 3, 0, "Responses JSON");
        expect(USAGE_API_OPENAI_RESPONSES, "/v1/responses",
               "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-x\","
               "\"usage\":null}}\n\n"
               "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n"
               "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-x\","
               "\"usage\":{\"input_tokens\":8,\"input_tokens_details\":{\"cached_tokens\":3},\"output_tokens\":7}}}\n\n",
               "gpt-x", 5, 7, 3, 0, "Responses SSE");
        expect_unknown(USAGE_API_OPENAI_RESPONSES, "/v1/responses",
                       "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-x\","
                       "\"usage\":null}}\n\n",
                       "Responses SSE without its completion");
        expect(USAGE_API_OPENAI_CHAT, "/v1/chat/completions",
               "{\"object\":\"chat.completion\",\"model\":\"gpt-y\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,"
               "\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
               "gpt-y", 5, 7, 3, 0, "Chat JSON");
        expect(USAGE_API_OPENAI_CHAT, "/v1/chat/completions",
               "data: {\"model\":\"gpt-y\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"
               "data: {\"model\":\"gpt-y\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":7}}\n\n"
               "data: [DONE]\n\n",
               "gpt-y", 8, 7, 0, 0, "Chat SSE");
        expect_unknown(USAGE_API_OPENAI_CHAT, "/v1/chat/completions",
                       "data: {\"model\":\"gpt-y\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n",
                       "Chat SSE without include_usage");
        expect(USAGE_API_OPENAI_CHAT, "/v1/chat/completions",
               "{\"model\":\"gpt-y\",\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,"
               "\"prompt_tokens_details\":{\"cached_tokens\":9}}}",
               "gpt-y", 0, 1, 2, 0, "more cached than prompt: capped");
}

static void test_gemini(void) {
        const char *path = "/v1beta/models/gemini-2.5-pro:generateContent";
        const char *one = "{\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":8,"
                          "\"cachedContentTokenCount\":3,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":1}}";
        char *array, *sse;

        expect(USAGE_API_GEMINI, path, one, "gemini-2.5-pro", 5, 7, 3, 0, "Gemini JSON, the model from the path");
        expect(USAGE_API_GEMINI, path,
               "{\"modelVersion\":\"gemini-2.5-pro-002\",\"usageMetadata\":{\"promptTokenCount\":8,"
               "\"candidatesTokenCount\":7}}",
               "gemini-2.5-pro-002", 8, 7, 0, 0, "Gemini JSON, modelVersion");
        if (asprintf(&array, "[{\"usageMetadata\":{\"promptTokenCount\":8}},%s]", one) < 0 ||
            asprintf(&sse, "data: {\"usageMetadata\":{\"promptTokenCount\":8}}\r\n\r\ndata: %s\r\n\r\n", one) < 0)
                abort();
        expect(USAGE_API_GEMINI, "/v1beta/models/gemini-2.5-pro:streamGenerateContent", array, "gemini-2.5-pro", 5, 7,
               3, 0, "Gemini stream as a JSON array");
        expect(USAGE_API_GEMINI, "/v1beta/models/gemini-2.5-pro:streamGenerateContent", sse, "gemini-2.5-pro", 5, 7, 3,
               0, "Gemini SSE");
        expect(USAGE_API_GEMINI, "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
               "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n"
               "data: {\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":7}}\n\n",
               "gemini-2.5-pro", 8, 7, 0, 0, "Gemini SSE, the usage after the finish");
        expect_unknown(USAGE_API_GEMINI, "/v1beta/models/g:streamGenerateContent",
                       "data: {\"usageMetadata\":{\"promptTokenCount\":8}}\n\n", "Gemini SSE cut before its end");
        free(array);
        free(sse);
}

static void test_limits(void) {
        usage_parser *u = usage_parser_new(USAGE_API_ANTHROPIC, "/v1/messages");
        usage_tokens t;
        char *big = malloc(USAGE_BODY_MAX + 2);

        if (!u || !big)
                abort();
        usage_parser_encoded(u);
        usage_parser_feed(u, anthropic_json, strlen(anthropic_json));
        usage_parser_finish(u, &t);
        ok(!t.known, "a compressed answer is unknown");
        usage_parser_free(u);

        /* past the limit, nothing is kept: unknown */
        memset(big, ' ', USAGE_BODY_MAX + 1);
        big[0] = '{';
        big[USAGE_BODY_MAX + 1] = '\0';
        u = usage_parser_new(USAGE_API_ANTHROPIC, "/v1/messages");
        usage_parser_feed(u, big, USAGE_BODY_MAX + 1);
        usage_parser_feed(u, anthropic_json, strlen(anthropic_json));
        usage_parser_finish(u, &t);
        ok(!t.known, "a JSON answer past USAGE_BODY_MAX is unknown");
        usage_parser_free(u);

        /* an overlong event is dropped, what follows still counts */
        u = usage_parser_new(USAGE_API_OPENAI_CHAT, "/v1/chat/completions");
        memset(big, 'x', USAGE_EVENT_MAX + 1);
        usage_parser_feed(u, "data: ", 6);
        usage_parser_feed(u, big, USAGE_EVENT_MAX + 1);
        usage_parser_feed(u, "\n\n", 2);
        usage_parser_feed(u, "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n", 58);
        usage_parser_finish(u, &t);
        ok(t.known && t.input == 1 && t.output == 2, "an overlong event is skipped, the usage after it read");
        usage_parser_free(u);

        /* a model name is made printable and cut */
        t = parse(USAGE_API_OPENAI_CHAT, "/v1/chat/completions",
                  "{\"model\":\"a\\u0001b\\nc\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", 0);
        is_str(t.model, "a?b?c", "control characters in a model name");
        free(big);
}

int main(void) {
        test_api_for_request();
        test_anthropic();
        test_openai();
        test_gemini();
        test_limits();
        return tap_done();
}
