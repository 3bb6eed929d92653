package dev.sieve.tokenizer.chat;

import static org.junit.jupiter.api.Assertions.*;

import dev.sieve.io.gguf.GgufMetadata;
import dev.sieve.io.gguf.GgufValue;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Real HF chat templates (test resources, written from the models' tokenizer_config.json) rendered
 * for one conversation; the expected strings are worked out by hand from each template's jinja2
 * semantics (trim_blocks, lstrip_blocks, filters binding tighter than {@code +}).
 */
class ChatTemplateTest {

    static final List<ChatMessage> CONV = List.of(
            new ChatMessage("system", "You are helpful."),
            new ChatMessage("user", "Hello"),
            new ChatMessage("assistant", "Hi there!"),
            new ChatMessage("user", "How are you?"));
    static final List<ChatMessage> NO_SYSTEM = CONV.subList(1, 4);

    static ChatTemplate template(String name, String bos, String eos) {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat-templates/" + name + ".jinja")) {
            return new ChatTemplate(new String(in.readAllBytes(), StandardCharsets.UTF_8), bos, eos);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void llama2() {
        ChatTemplate t = template("llama2", "<s>", "</s>");
        assertEquals("<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello [/INST] Hi there! </s>"
                + "<s>[INST] How are you? [/INST]", t.render(CONV, true));
        // .strip() on the content: Python semantics on a Java string
        assertEquals("<s>[INST] Hello [/INST]", t.render(List.of(new ChatMessage("user", "  Hello \n")), true));
    }

    @Test
    void llama3() {
        ChatTemplate t = template("llama3", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(CONV, true));
        // | trim binds to the content only, not to the concatenation
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>",
                t.render(List.of(new ChatMessage("user", "  x  ")), false));
    }

    @Test
    void llama31() {
        ChatTemplate t = template("llama31", "<|begin_of_text|>", "<|eot_id|>");
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are helpful.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, t.render(CONV, true));
        // date_string passed in overrides the default
        assertEquals(expected.replace("26 Jul 2024", "01 Jan 2025"),
                t.render(CONV, true, Map.of("date_string", "01 Jan 2025")));
    }

    @Test
    void llama31WithToolsInFirstUserMessage() {
        ChatTemplate t = template("llama31", "<|begin_of_text|>", "<|eot_id|>");
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "get_time");
        fn.put("parameters", Map.of());
        String out = t.render(List.of(new ChatMessage("user", "What time is it?")), true, Map.of("tools", List.of(fn)));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call "
                + "with its proper arguments that best answers the given prompt.\n\n"
                + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
                + "Do not use variables.\n\n"
                + "{\n    \"name\": \"get_time\",\n    \"parameters\": {}\n}\n\n"
                + "What time is it?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void mistralV01RejectsSystemAndRendersAlternation() {
        ChatTemplate t = template("mistral-v01", "<s>", "</s>");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(CONV, true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
        assertEquals("<s>[INST] Hello [/INST]Hi there!</s>[INST] How are you? [/INST]", t.render(NO_SYSTEM, true));
    }

    @Test
    void mistralV02FoldsSystemIntoFirstInst() {
        ChatTemplate t = template("mistral-v02", "<s>", "</s>");
        assertEquals("<s> [INST] You are helpful.\n\nHello [/INST] Hi there!</s> [INST] How are you? [/INST]",
                t.render(CONV, true));
        assertEquals("<s> [INST] Hello [/INST] Hi there!</s> [INST] How are you? [/INST]", t.render(NO_SYSTEM, true));
    }

    @Test
    void qwen25() {
        ChatTemplate t = template("qwen25", "", "<|im_end|>");
        assertEquals("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi there!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(CONV, true));
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n"
                + "<|im_start|>user\nHow are you?<|im_end|>\n", t.render(NO_SYSTEM, false));
    }

    @Test
    void qwen25ToolsBlockUsesPythonJsonLayout() {
        ChatTemplate t = template("qwen25", "", "<|im_end|>");
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("type", "object");
        params.put("required", List.of("city"));
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "weather");
        fn.put("parameters", params);
        Map<String, Object> tool = new LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", fn);
        String out = t.render(List.of(new ChatMessage("user", "Weather in Paris?")), true, Map.of("tools", List.of(tool)));
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n"
                + "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"weather\", \"parameters\": {\"type\": \"object\", \"required\": [\"city\"]}}}\n"
                + "</tools>\n\nFor each function call, return a json object with function name and arguments within "
                + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
                + "</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n", out);
    }

    @Test
    void zephyrTinyLlama() {
        // Line-per-tag template: trim_blocks eats the newline after each {% %}, not after {{ }}.
        ChatTemplate t = template("zephyr", "<s>", "</s>");
        assertEquals("<|system|>\nYou are helpful.</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there!</s>\n"
                + "<|user|>\nHow are you?</s>\n<|assistant|>\n", t.render(CONV, true));
        assertEquals("<|user|>\nHello</s>\n", t.render(List.of(new ChatMessage("user", "Hello")), false));
    }

    @Test
    void smolLm2() {
        ChatTemplate t = template("smollm2", "<|im_start|>", "<|im_end|>");
        assertEquals("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi there!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(CONV, true));
        assertTrue(t.render(NO_SYSTEM, true).startsWith(
                "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                        + "<|im_start|>user\nHello<|im_end|>\n"));
    }

    @Test
    void phi3() {
        ChatTemplate t = template("phi3", "<s>", "<|endoftext|>");
        assertEquals("<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there!<|end|>\n"
                + "<|user|>\nHow are you?<|end|>\n<|assistant|>\n", t.render(CONV, true));
        assertTrue(t.render(NO_SYSTEM, false).endsWith("How are you?<|end|>\n<|endoftext|>"));
    }

    @Test
    void gemma() {
        ChatTemplate t = template("gemma", "<bos>", "<eos>");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(CONV, true));
        assertTrue(e.getMessage().contains("System role not supported"), e.getMessage());
        assertEquals("<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there!<end_of_turn>\n"
                + "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n", t.render(NO_SYSTEM, true));
    }

    @Test
    void syntaxErrorIsAChatTemplateException() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{{ m.content }}", "", "");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(CONV, true));
        assertTrue(e.getMessage().toLowerCase().contains("endfor"), e.getMessage());
    }

    @Test
    void pythonStringMethodsAndNamespace() {
        String src = "{% set ns = namespace(n=0, sys=false) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                + "{% if m.role.startswith('sys') %}{% set ns.sys = true %}{% endif %}{% endfor %}"
                + "{{ ns.n }}|{{ ns.sys }}|{{ messages[1]['content'].upper() }}|{{ messages[2].content.lower() }}"
                + "|{{ messages[3].content.split() | length }}|{{ messages[3].content.split('a') }}"
                + "|{{ messages[0].content.endswith('.') }}|{{ ' x y '.strip() }}|{{ '--x--'.strip('-') }}"
                + "|{{ messages[1:] | length }}|{% for m in messages %}{{ loop.index0 }}{{ 'F' if loop.first }}{{ 'L' if loop.last }}{% endfor %}"
                + "|{{ foo is defined }}{{ messages is defined }}|{{ messages[0]['role'] }}";
        assertEquals("4|true|HELLO|hi there!|3|[How , re you?]|true|x y|x|3|0F123L|falsetrue|system",
                new ChatTemplate(src, "", "").render(CONV, false));
    }

    @Test
    void strftimeNowUsesTheClock() {
        ChatTemplate t = new ChatTemplate("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M') }}", "", "")
                .withClock(Clock.fixed(Instant.parse("2024-07-05T09:03:00Z"), ZoneOffset.UTC));
        assertEquals("05 Jul 2024|2024-07-05 09:03", t.render(CONV, false));
    }

    @Test
    void tojsonMatchesPythonJsonDumps() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\n\u00e9");
        m.put("n", 3);
        m.put("f", 1.5);
        m.put("l", List.of(true, false));
        m.put("z", null);
        // json.dumps({'s': 'a"b\né', 'n': 3, 'f': 1.5, 'l': [True, False], 'z': None}, ensure_ascii=False)
        assertEquals("{\"s\": \"a\\\"b\\n\u00e9\", \"n\": 3, \"f\": 1.5, \"l\": [true, false], \"z\": null}",
                new ChatTemplate("{{ x | tojson }}", "", "").render(List.of(), false, Map.of("x", m)));
        assertEquals("[\n  1,\n  [\n    2\n  ]\n]",
                new ChatTemplate("{{ x | tojson(indent=2) }}", "", "").render(List.of(), false, Map.of("x", List.of(1, List.of(2)))));
    }

    @Test
    void trailingNewlineOfTemplateIsDropped() {
        assertEquals("x\ny", new ChatTemplate("x\ny\n", "", "").render(List.of(), false));
    }

    @Test
    void fromGgufUsesTemplateAndSpecialTokens() {
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"<unk>", "<s>", "</s>", "a"}));
        kv.put("tokenizer.ggml.bos_token_id", GgufValue.ofU32(1));
        kv.put("tokenizer.ggml.eos_token_id", GgufValue.ofU32(2));
        kv.put("tokenizer.chat_template", GgufValue.ofString("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"));
        ChatTemplate t = ChatTemplate.fromGguf(new GgufMetadata(kv));
        assertEquals("<s>You are helpful.</s>", t.render(CONV, true));
    }

    @Test
    void fallbackIsChatMlWhenVocabularyHasImStart() {
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
        ChatTemplate t = ChatTemplate.fromGguf(new GgufMetadata(kv));
        assertEquals("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
                t.render(List.of(new ChatMessage("user", "Hello")), true));
    }

    @Test
    void fallbackIsPlainOtherwise() {
        Map<String, GgufValue> kv = new LinkedHashMap<>();
        kv.put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"<unk>", "<s>", "</s>"}));
        kv.put("tokenizer.ggml.bos_token_id", GgufValue.ofU32(1));
        ChatTemplate t = ChatTemplate.fromGguf(new GgufMetadata(kv));
        assertEquals("<s>system: You are helpful.\nuser: Hello\nassistant: Hi there!\nuser: How are you?\nassistant:",
                t.render(CONV, true));
    }

    @Test
    void whitespaceControlMarkersAndComments() {
        // jinja2: "{{-" / "-}}" eat all whitespace on that side; a comment alone on a line vanishes with its newline.
        assertEquals("a[x}}]b\nc", new ChatTemplate("a  \n  {{- '[x}}]' -}}  \n b\n  {# note #}\nc", "", "").render(List.of(), false));
    }
}
