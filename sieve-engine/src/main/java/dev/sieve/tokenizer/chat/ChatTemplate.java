package dev.sieve.tokenizer.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.FatalTemplateErrorsException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.sieve.io.gguf.GgufMetadata;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;

/**
 * Turns a conversation into the prompt text a model was trained on, by rendering the model's
 * Jinja2 chat template (GGUF key {@code tokenizer.chat_template}, copied from HF's
 * tokenizer_config.json) with Jinjava set up to behave like transformers' jinja2 environment:
 * {@code trim_blocks} and {@code lstrip_blocks} on, one trailing newline of the template dropped
 * (jinja2's default {@code keep_trailing_newline=False}), Python string methods on strings, Python's {@code json.dumps} layout for
 * {@code tojson}, and
 * the globals {@code raise_exception(msg)} and {@code strftime_now(fmt)}. The variables are
 * {@code messages} (maps with {@code role} and {@code content}), {@code add_generation_prompt},
 * {@code bos_token} and {@code eos_token}, plus any extras given to {@link #render(List, boolean, Map)}.
 *
 * <p>Without a template in the file, {@link #fromGguf} falls back to ChatML when the vocabulary
 * has {@code <|im_start|>}, else to {@link #PLAIN}: "role: content" lines and "assistant:" as the
 * generation prompt.
 */
public final class ChatTemplate {

    /** ChatML, as used by Qwen, SmolLM and others (no default system prompt). */
    public static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Last-resort format for models that ship no template and are not ChatML. */
    public static final String PLAIN = "{{ bos_token }}{% for message in messages %}{{ message['role'] + ': '"
            + " + message['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

    private static final ThreadLocal<Clock> CLOCK = new ThreadLocal<>();

    private final String source;
    private final String prepared;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;
    private Clock clock = Clock.systemDefaultZone();

    public ChatTemplate(String source, String bosToken, String eosToken) {
        Objects.requireNonNull(source, "source");
        // jinja2 (keep_trailing_newline=False) drops a single trailing newline of the source.
        this.source = source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        this.prepared = WhitespaceControl.apply(this.source);
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyStringMethods());
        resolver.add(com.hubspot.jinjava.el.JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig cfg = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver)
                .withFailOnUnknownTokens(false)
                .build();
        this.jinjava = new Jinjava(cfg);
        jinjava.getGlobalContext().registerFilter(new PyJsonFilter());
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
    }

    /**
     * The model's template, or a built-in one (see the class comment). bos/eos strings come from
     * {@code tokenizer.ggml.tokens} at {@code tokenizer.ggml.bos_token_id}/{@code eos_token_id}.
     */
    public static ChatTemplate fromGguf(GgufMetadata md) {
        String[] tokens = md.has("tokenizer.ggml.tokens") ? md.getStrings("tokenizer.ggml.tokens") : new String[0];
        String bos = tokenAt(md, tokens, "tokenizer.ggml.bos_token_id");
        String eos = tokenAt(md, tokens, "tokenizer.ggml.eos_token_id");
        String src = md.optString("tokenizer.chat_template").orElse(null);
        if (src == null) {
            src = Arrays.asList(tokens).contains("<|im_start|>") ? CHATML : PLAIN;
        }
        return new ChatTemplate(src, bos, eos);
    }

    private static String tokenAt(GgufMetadata md, String[] tokens, String key) {
        if (!md.has(key)) {
            return "";
        }
        int id = md.getInt(key);
        return id >= 0 && id < tokens.length ? tokens[id] : "";
    }

    public String source() {
        return source;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** The clock behind {@code strftime_now}; tests pin it. */
    public ChatTemplate withClock(Clock c) {
        this.clock = Objects.requireNonNull(c);
        return this;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** Renders with extra variables (e.g. {@code tools}, {@code date_string}) visible to the template. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.role());
            mm.put("content", m.content());
            msgs.add(mm);
        }
        Map<String, Object> ctx = new HashMap<>(extra);
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        RenderResult r;
        CLOCK.set(clock);
        try {
            r = jinjava.renderForResult(prepared, ctx);
        } catch (FatalTemplateErrorsException e) {
            throw new ChatTemplateException("chat template failed: " + describe(e.getErrors()), e);
        } catch (RuntimeException e) {
            throw new ChatTemplateException("chat template failed: " + e.getMessage(), e);
        } finally {
            CLOCK.remove();
        }
        List<TemplateError> fatal = new ArrayList<>();
        for (TemplateError err : r.getErrors()) {
            // Jinjava reports unknown variables as warnings; jinja2 renders them empty too.
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                fatal.add(err);
            }
        }
        if (!fatal.isEmpty()) {
            throw new ChatTemplateException("chat template failed: " + describe(fatal));
        }
        return r.getOutput();
    }

    private static String describe(Iterable<TemplateError> errors) {
        StringBuilder b = new StringBuilder();
        for (TemplateError e : errors) {
            if (!b.isEmpty()) {
                b.append("; ");
            }
            String msg = e.getMessage();
            // A raise_exception call surfaces wrapped by Jinjava; report the template's own words.
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                if (t instanceof RaisedByTemplate rt) {
                    msg = rt.getMessage();
                    break;
                }
            }
            b.append(msg);
            if (e.getLineno() > 0) {
                b.append(" (line ").append(e.getLineno()).append(')');
            }
        }
        return b.toString();
    }

    /** The template called raise_exception. */
    private static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String msg) {
            super("raise_exception: " + msg);
        }
    }

    /** Template function {@code raise_exception(msg)}. */
    public static Object raiseException(String msg) {
        throw new RaisedByTemplate(msg);
    }

    /** Template function {@code strftime_now(fmt)}: Python strftime of the current local time. */
    public static String strftimeNow(String fmt) {
        Clock c = CLOCK.get();
        return strftime(ZonedDateTime.now(c == null ? Clock.systemDefaultZone() : c), fmt);
    }

    /** The subset of Python's strftime codes that chat templates use. */
    static String strftime(ZonedDateTime t, String fmt) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char ch = fmt.charAt(i);
            if (ch != '%' || i + 1 == fmt.length()) {
                b.append(ch);
                continue;
            }
            char f = fmt.charAt(++i);
            switch (f) {
                case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
                case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
                case 'b' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> b.append(String.format("%02d", t.getHour()));
                case 'I' -> b.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> b.append(String.format("%02d", t.getMinute()));
                case 'S' -> b.append(String.format("%02d", t.getSecond()));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> b.append('%');
                default -> b.append('%').append(f);
            }
        }
        return b.toString();
    }
}
