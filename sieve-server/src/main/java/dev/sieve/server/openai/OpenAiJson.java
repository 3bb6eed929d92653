package dev.sieve.server.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * JSON in and out. Bodies are read as a tree and checked field by field, so that a wrong type or
 * value is answered with a 400 naming the field, as OpenAI does; unknown fields are ignored.
 */
public final class OpenAiJson {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    private OpenAiJson() {}

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName(), e);
        }
    }

    public static String writeString(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName(), e);
        }
    }

    private static JsonNode root(byte[] body) {
        JsonNode root;
        try {
            root = MAPPER.readTree(body);
        } catch (IOException e) {
            throw ApiException.invalid(null, "the request body is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        return root;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    public static ChatCompletionRequest parseChat(byte[] body) {
        JsonNode r = root(body);
        JsonNode msgs = r.get("messages");
        if (msgs == null || msgs.isNull()) {
            throw ApiException.invalid("messages", "'messages' is required");
        }
        if (!msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatCompletionRequest.Message> out = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            String at = "messages[" + i + "]";
            JsonNode m = msgs.get(i);
            if (!m.isObject()) {
                throw ApiException.invalid(at, "'" + at + "' must be an object");
            }
            String role = string(m, "role", at + ".role", true);
            if (!ROLES.contains(role)) {
                throw ApiException.invalid(at + ".role", "'" + at + ".role' must be one of " + ROLES + ", got '" + role + "'");
            }
            out.add(new ChatCompletionRequest.Message(role, content(m.get("content"), at + ".content")));
        }
        Integer maxTokens = integer(r, "max_completion_tokens", 1);
        if (maxTokens == null) {
            maxTokens = integer(r, "max_tokens", 1);
        }
        boolean logprobs = bool(r, "logprobs", false);
        Integer top = integer(r, "top_logprobs", 0);
        if (top != null && top > 20) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' must be at most 20");
        }
        if (top != null && !logprobs) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
        }
        return new ChatCompletionRequest(string(r, "model", "model", false), List.copyOf(out),
                options(r, maxTokens, logprobs ? (top == null ? 0 : top) : null));
    }

    public static CompletionRequest parseCompletion(byte[] body) {
        JsonNode r = root(body);
        JsonNode p = r.get("prompt");
        String prompt;
        if (p == null || p.isNull()) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        } else if (p.isTextual()) {
            prompt = p.asText();
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            prompt = p.get(0).asText();
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string (or a list of one string)");
        }
        if (prompt.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must not be empty");
        }
        if (bool(r, "echo", false)) {
            throw ApiException.invalid("echo", "'echo' is not supported");
        }
        Integer best = integer(r, "best_of", 1);
        if (best != null && best != 1) {
            throw ApiException.invalid("best_of", "only 'best_of' = 1 is supported");
        }
        Integer maxTokens = integer(r, "max_tokens", 1);
        Integer lp = integer(r, "logprobs", 0);
        if (lp != null && lp > 5) {
            throw ApiException.invalid("logprobs", "'logprobs' must be at most 5");
        }
        return new CompletionRequest(string(r, "model", "model", false), prompt, options(r, maxTokens, lp));
    }

    private static GenerationOptions options(JsonNode r, Integer maxTokens, Integer topLogprobs) {
        Integer n = integer(r, "n", 1);
        if (n != null && n != 1) {
            throw ApiException.invalid("n", "only 'n' = 1 is supported; send several requests for several choices");
        }
        Double temperature = number(r, "temperature", 0, 2);
        Double topP = number(r, "top_p", 0, 1);
        if (topP != null && topP == 0) {
            throw ApiException.invalid("top_p", "'top_p' must be greater than 0");
        }
        Double presence = number(r, "presence_penalty", -2, 2);
        Double frequency = number(r, "frequency_penalty", -2, 2);
        Long seed = null;
        JsonNode s = r.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw ApiException.invalid("seed", "'seed' must be an integer");
            }
            seed = s.asLong();
        }
        boolean stream = bool(r, "stream", false);
        boolean includeUsage = false;
        JsonNode so = r.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) {
                throw ApiException.invalid("stream_options", "'stream_options' must be an object");
            }
            if (!stream) {
                throw ApiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
            }
            includeUsage = bool(so, "include_usage", false);
        }
        return new GenerationOptions(maxTokens, temperature, topP, seed, stops(r.get("stop")),
                presence == null ? 0 : presence, frequency == null ? 0 : frequency, stream, includeUsage, topLogprobs,
                bool(r, "ignore_eos", false));
    }

    private static List<String> stops(JsonNode s) {
        if (s == null || s.isNull()) {
            return List.of();
        }
        if (s.isTextual()) {
            return List.of(s.asText());
        }
        if (!s.isArray() || s.size() > 4) {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of at most 4 strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : s) {
            if (!e.isTextual()) {
                throw ApiException.invalid("stop", "'stop' must be a string or an array of at most 4 strings");
            }
            out.add(e.asText());
        }
        return List.copyOf(out);
    }

    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < c.size(); i++) {
                JsonNode part = c.get(i);
                String pat = at + "[" + i + "]";
                if (!part.isObject() || !"text".equals(part.path("type").asText())) {
                    throw ApiException.invalid(pat, "'" + pat + "' must be a text part ({\"type\": \"text\", \"text\": ...})");
                }
                sb.append(string(part, "text", pat + ".text", true));
            }
            return sb.toString();
        }
        throw ApiException.invalid(at, "'" + at + "' must be a string or an array of text parts");
    }

    private static String string(JsonNode o, String field, String name, boolean required) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw ApiException.invalid(name, "'" + name + "' is required");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.invalid(name, "'" + name + "' must be a string");
        }
        return v.asText();
    }

    private static Integer integer(JsonNode o, String field, int min) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiException.invalid(field, "'" + field + "' must be an integer");
        }
        if (v.asInt() < min) {
            throw ApiException.invalid(field, "'" + field + "' must be at least " + min);
        }
        return v.asInt();
    }

    private static Double number(JsonNode o, String field, double min, double max) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw ApiException.invalid(field, "'" + field + "' must be a number");
        }
        double d = v.asDouble();
        if (!(d >= min && d <= max)) {
            throw ApiException.invalid(field, "'" + field + "' must be between " + fmt(min) + " and " + fmt(max));
        }
        return d;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private static boolean bool(JsonNode o, String field, boolean dflt) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(field, "'" + field + "' must be a boolean");
        }
        return v.asBoolean();
    }
}
