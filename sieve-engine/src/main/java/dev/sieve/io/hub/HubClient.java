package dev.sieve.io.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads GGUF files from a Hugging Face-compatible hub.
 *
 * <p>Files come from {@code {base}/{repo}/resolve/{revision}/{file}} and land in
 * {@code {cache}/{owner}--{name}/{file}}. A download goes to {@code file.part} first; a later
 * attempt resumes it with {@code Range: bytes=N-} (a server answering 200 instead of 206 gets a
 * fresh start). When the hub reports a SHA-256 (HF puts it in {@code X-Linked-ETag} on the
 * redirect, or in {@code ETag}), the bytes are verified before the atomic move into place.
 */
public final class HubClient {
    public static final String DEFAULT_BASE = "https://huggingface.co";
    public static final String DEFAULT_REVISION = "main";

    /** Download progress: bytes on disk so far and the total, or -1 when the server did not say. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);

        Progress NONE = (d, t) -> {};
    }

    private final String base;
    private final String token;
    private final Path cacheDir;
    private final HttpClient http;

    /**
     * @param baseUrl hub root, e.g. {@code https://huggingface.co}
     * @param token bearer token for gated/private repositories, or null
     * @param cacheDir where models are stored
     */
    public HubClient(String baseUrl, String token, Path cacheDir) {
        this.base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.cacheDir = cacheDir;
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
    }

    /** Settings from the environment: SIEVE_HUB_URL or HF_ENDPOINT, HF_TOKEN, SIEVE_CACHE. */
    public static HubClient fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    static HubClient fromEnvironment(Map<String, String> env) {
        String url = firstNonBlank(env.get("SIEVE_HUB_URL"), env.get("HF_ENDPOINT"), DEFAULT_BASE);
        String cache = env.get("SIEVE_CACHE");
        Path dir = cache != null && !cache.isBlank()
                ? Path.of(cache)
                : Path.of(System.getProperty("user.home"), ".cache", "sieve", "models");
        return new HubClient(url, env.get("HF_TOKEN"), dir);
    }

    private static String firstNonBlank(String... s) {
        for (String x : s) {
            if (x != null && !x.isBlank()) {
                return x;
            }
        }
        return null;
    }

    public String baseUrl() {
        return base;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** Where {@code repo}'s {@code file} is (or will be) stored. */
    public Path cachePath(String repo, String file) {
        return cacheDir.resolve(repo.replace("/", "--")).resolve(file);
    }

    /**
     * {@code sieve pull REPO[:FILE]}: downloads the named file, or the repository's only .gguf
     * when FILE is omitted. Returns the cached path (without network access if already there).
     */
    public Path pull(String spec, Progress progress) throws IOException {
        int colon = spec.indexOf(':');
        String repo = colon < 0 ? spec : spec.substring(0, colon);
        String file = colon < 0 ? null : spec.substring(colon + 1);
        if (!repo.matches("[^/\\s]+/[^/\\s]+")) {
            throw new HubException("'" + repo + "' is not a repository name of the form owner/name", -1);
        }
        if (file == null || file.isEmpty()) {
            file = pickGguf(repo, DEFAULT_REVISION);
        }
        return download(repo, file, DEFAULT_REVISION, progress);
    }

    /** File names in a repository, from {@code {base}/api/models/{repo}} (its {@code siblings}). */
    public List<String> listFiles(String repo, String revision) throws IOException {
        String url = base + "/api/models/" + repo
                + (revision == null || revision.equals(DEFAULT_REVISION) ? "" : "/revision/" + encode(revision));
        HttpResponse<String> r = send(request(url).GET().build(), HttpResponse.BodyHandlers.ofString(), url);
        check(r.statusCode(), repo, null, url);
        return parseSiblings(r.body());
    }

    /** The repository's single .gguf file; an error lists the candidates when there are several. */
    public String pickGguf(String repo, String revision) throws IOException {
        List<String> ggufs = listFiles(repo, revision).stream()
                .filter(f -> f.toLowerCase().endsWith(".gguf"))
                .toList();
        if (ggufs.isEmpty()) {
            throw new HubException("repository " + repo + " has no .gguf file", -1);
        }
        if (ggufs.size() > 1) {
            throw new HubException("repository " + repo + " has several .gguf files; pick one with "
                    + repo + ":FILE:\n  " + String.join("\n  ", ggufs), -1);
        }
        return ggufs.get(0);
    }

    /** Downloads (or resumes) one file into the cache and returns its path. */
    public Path download(String repo, String file, String revision, Progress progress) throws IOException {
        Path target = cachePath(repo, file);
        if (Files.isRegularFile(target)) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path part = target.resolveSibling(target.getFileName() + ".part");
        String url = base + "/" + repo + "/resolve/" + encode(revision) + "/" + encodePath(file);
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;

        HttpRequest.Builder rb = request(url).GET();
        if (have > 0) {
            rb.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> r = send(rb.build(), HttpResponse.BodyHandlers.ofInputStream(), url);
        try (InputStream body = r.body()) {
            int status = r.statusCode();
            if (status == 416 && have > 0) {
                // The part is not a prefix the server can continue (e.g. the file changed): start over.
                Files.delete(part);
                body.close();
                return download(repo, file, revision, progress);
            }
            check(status, repo, file, url);
            boolean append = status == 206;
            if (append && !contentRangeStartsAt(r.headers(), have)) {
                throw new HubException("server answered a Range request for bytes " + have
                        + "- with " + r.headers().firstValue("Content-Range").orElse("no Content-Range"), status);
            }
            if (!append) {
                have = 0; // 200: the server ignored Range (or there was none); the body is the whole file
            }
            long total = totalSize(r.headers(), append, have);
            Optional<String> sha = expectedSha256(r);
            MessageDigest md = sha256();
            if (append) {
                try (InputStream old = Files.newInputStream(part)) {
                    digest(old, md);
                }
            }
            try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 16];
                long done = have;
                progress.update(done, total);
                for (int k; (k = body.read(buf)) > 0; ) {
                    out.write(buf, 0, k);
                    md.update(buf, 0, k);
                    done += k;
                    progress.update(done, total);
                }
                if (total >= 0 && done != total) {
                    throw new HubException("download of " + file + " ended early: " + done + " of " + total
                            + " bytes (run the command again to resume)", -1);
                }
            } catch (HubException e) {
                throw e;
            } catch (IOException e) {
                // The .part stays so the next attempt resumes.
                throw new HubException("network error downloading " + url + ": " + e.getMessage()
                        + " (run the command again to resume)", e);
            }
            if (sha.isPresent()) {
                String got = HexFormat.of().formatHex(md.digest());
                if (!got.equalsIgnoreCase(sha.get())) {
                    Files.deleteIfExists(part);
                    throw new HubException("checksum mismatch for " + repo + "/" + file + ": expected sha256 "
                            + sha.get() + ", got " + got + "; the partial download was deleted", -1);
                }
            }
        }
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return target;
    }

    private HttpRequest.Builder request(String url) throws HubException {
        HttpRequest.Builder b;
        try {
            b = HttpRequest.newBuilder(URI.create(url));
        } catch (IllegalArgumentException e) {
            throw new HubException("bad hub URL " + url + ": " + e.getMessage(), e);
        }
        b.header("User-Agent", "sieve");
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> h, String url) throws HubException {
        try {
            return http.send(req, h);
        } catch (IOException e) {
            throw new HubException("network error reaching " + url + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException("interrupted while reaching " + url, e);
        }
    }

    private void check(int status, String repo, String file, String url) throws HubException {
        if (status == 200 || status == 206) {
            return;
        }
        String what = file == null ? "repository " + repo : repo + "/" + file;
        switch (status) {
            case 401, 403 -> throw new HubException("access to " + what + " denied (HTTP " + status + "): the repository"
                    + " may be gated or private; accept its terms on the hub and set HF_TOKEN"
                    + (token == null ? "" : " (the current HF_TOKEN was rejected)"), status);
            case 404 -> throw new HubException(what + " not found (HTTP 404 at " + url + "): check the repository"
                    + " and file names", status);
            default -> throw new HubException("hub answered HTTP " + status + " for " + url, status);
        }
    }

    private static boolean contentRangeStartsAt(HttpHeaders h, long start) {
        return h.firstValue("Content-Range").map(v -> v.trim().startsWith("bytes " + start + "-")).orElse(false);
    }

    private static long totalSize(HttpHeaders h, boolean partial, long have) {
        if (partial) {
            Optional<String> cr = h.firstValue("Content-Range");
            if (cr.isPresent()) {
                String v = cr.get();
                int slash = v.lastIndexOf('/');
                if (slash >= 0 && !v.endsWith("*")) {
                    return Long.parseLong(v.substring(slash + 1).trim());
                }
            }
            long len = h.firstValueAsLong("Content-Length").orElse(-1);
            return len < 0 ? -1 : have + len;
        }
        return h.firstValueAsLong("Content-Length").orElse(-1);
    }

    private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");

    /**
     * The SHA-256 the hub vouches for. HF answers resolve/ of an LFS file with a redirect carrying
     * {@code X-Linked-ETag: "sha256"}; the CDN's own ETag is not a SHA-256. So look along the
     * redirect chain for X-Linked-ETag first, then an ETag that is 64 hex digits.
     */
    static Optional<String> expectedSha256(HttpResponse<?> last) {
        List<HttpHeaders> chain = new ArrayList<>();
        for (HttpResponse<?> r = last; r != null; r = r.previousResponse().orElse(null)) {
            chain.add(0, r.headers());
        }
        for (String name : List.of("X-Linked-ETag", "ETag")) {
            for (HttpHeaders h : chain) {
                Optional<String> v = h.firstValue(name).map(HubClient::unquoteEtag).filter(x -> HEX64.matcher(x).matches());
                if (v.isPresent()) {
                    return v.map(String::toLowerCase);
                }
            }
        }
        return Optional.empty();
    }

    static String unquoteEtag(String v) {
        String s = v.trim();
        if (s.startsWith("W/")) {
            s = s.substring(2);
        }
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) {
            s = s.substring(1, s.length() - 1);
        }
        return s;
    }

    private static final Pattern RFILENAME = Pattern.compile("\"rfilename\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    /**
     * Extracts {@code siblings[].rfilename} from the model-info JSON. A targeted scan instead of a
     * JSON library: the key only occurs in that array, and its values are JSON strings.
     */
    static List<String> parseSiblings(String json) throws HubException {
        if (!json.contains("\"siblings\"")) {
            throw new HubException("hub model info has no 'siblings' list", -1);
        }
        List<String> out = new ArrayList<>();
        Matcher m = RFILENAME.matcher(json);
        while (m.find()) {
            out.add(unescapeJson(m.group(1)));
        }
        return out;
    }

    static String unescapeJson(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case 'r' -> b.append('\r');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'u' -> {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> b.append(e); // \" \\ \/
            }
        }
        return b.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void digest(InputStream in, MessageDigest md) throws IOException {
        byte[] buf = new byte[1 << 16];
        for (int k; (k = in.read(buf)) > 0; ) {
            md.update(buf, 0, k);
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Encodes each path segment but keeps the slashes of files in subfolders. */
    private static String encodePath(String file) {
        String[] parts = file.split("/", -1);
        for (int i = 0; i < parts.length; i++) {
            parts[i] = encode(parts[i]);
        }
        return String.join("/", parts);
    }
}
