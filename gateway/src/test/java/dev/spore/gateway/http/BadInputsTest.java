package dev.spore.gateway.http;

import dev.spore.gateway.fixtures.FixtureJars;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The catalogue of bad inputs a deployer or a broken client can send, each tried against the real gateway: every
 * one gets the status it should (4xx for the caller's mistakes), a JSON body whose {@code message} names what was
 * wrong (never empty, never "null"), and the gateway stays up and keeps serving a good function afterwards. The
 * table of what was sent and what came back is written to {@code target/bad-inputs.md} (the figures of issue 12).
 */
@QuarkusTest
class BadInputsTest {

    static final String FN = "bad-" + Long.toHexString(System.nanoTime() & 0xffffff);
    static final List<String> TABLE = new ArrayList<>();
    static final SoftAssertions SOFTLY = new SoftAssertions();
    static Path jar;
    static Path notAJar;

    @BeforeAll
    static void jars() throws IOException {
        Path dir = Files.createDirectories(Path.of("target/test-jars"));
        jar = FixtureJars.functionJar(dir).toAbsolutePath();
        notAJar = FixtureJars.badJar(dir).toAbsolutePath();
    }

    @AfterAll
    static void writeTable() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("| bad input | request | status | message |");
        lines.add("|---|---|---:|---|");
        lines.addAll(TABLE);
        Files.write(Path.of("target/bad-inputs.md"), lines);
    }

    @Test
    void everyBadInputGetsItsStatusAndAMessageAndTheGatewayStaysUp() {
        given().contentType(ContentType.JSON).body(deploy("dev.spore.gateway.fixtures.Echo", Map.of()))
                .post("/functions/" + FN + "/versions").then().statusCode(201);

        tried("unknown function", "POST /invoke/no-such-fn", 404, "no-such-fn",
                r -> r.body("x").post("/invoke/no-such-fn"));
        tried("unknown version", "POST /invoke/FN/99", 404, "99",
                r -> r.body("x").post("/invoke/" + FN + "/99"));
        tried("unknown alias", "POST /invoke/FN/nosuch", 404, "nosuch",
                r -> r.body("x").post("/invoke/" + FN + "/nosuch"));
        tried("jar path that does not exist", "POST /functions/f/versions {jarPath:/nonexistent.jar}", 400, "not a readable file",
                r -> json(r, Map.of("handler", "a.B", "jarPath", "/nonexistent.jar")).post("/functions/" + FN + "-x/versions"));
        tried("jar that is not a zip", "POST /functions/f/versions {jarPath: text file}", 400, "is not a jar (zip) file",
                r -> json(r, Map.of("handler", "a.B", "jarPath", notAJar.toString())).post("/functions/" + FN + "-x/versions"));
        tried("handler class not in the jar", "POST /functions/f/versions {handler: com.example.Missing}", 400, "com.example.Missing",
                r -> json(r, deploy("com.example.Missing", Map.of())).post("/functions/" + FN + "-x/versions"));
        tried("handler that is not a function", "POST /functions/f/versions {handler: FixtureJars}", 422, "is not a handler: implement",
                r -> json(r, deploy("dev.spore.gateway.fixtures.FixtureJars", Map.of())).post("/functions/" + FN + "-x/versions"));
        tried("no handler", "POST /functions/f/versions {jarPath only}", 400, "handler",
                r -> json(r, Map.of("jarPath", jar.toString())).post("/functions/" + FN + "-x/versions"));
        tried("no jar at all", "POST /functions/f/versions {handler only}", 400, "jar",
                r -> json(r, Map.of("handler", "a.B")).post("/functions/" + FN + "-x/versions"));
        tried("function name with capitals", "POST /functions/Bad_Name/versions", 400, "function name",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of())).post("/functions/Bad_Name/versions"));
        tried("function name with a path", "POST /functions/..%2Fetc/versions", 400, "function name",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of())).urlEncodingEnabled(false)
                        .post("/functions/..%2Fetc/versions"));
        tried("concurrency 0", "POST /functions/f/versions {concurrency: 0}", 400, "concurrency",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("concurrency", 0))).post("/functions/" + FN + "-x/versions"));
        tried("negative memory", "POST /functions/f/versions {memoryMb: -1}", 400, "memory",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("memoryMb", -1))).post("/functions/" + FN + "-x/versions"));
        tried("timeout 0", "POST /functions/f/versions {timeoutMs: 0}", 400, "timeout",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("timeoutMs", 0))).post("/functions/" + FN + "-x/versions"));
        tried("config key with a space", "POST /functions/f/versions {config: {\"a b\": 1}}", 400, "a b",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("config", Map.of("a b", "1"))))
                        .post("/functions/" + FN + "-x/versions"));
        tried("config value over 4 KiB", "POST /functions/f/versions {config: {k: 5000 chars}}", 400, "4096",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("config", Map.of("k", "v".repeat(5000)))))
                        .post("/functions/" + FN + "-x/versions"));
        tried("environment name with '='", "POST /functions/f/versions {env: {\"A=B\": 1}}", 400, "A=B",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("env", Map.of("A=B", "1"))))
                        .post("/functions/" + FN + "-x/versions"));
        tried("environment that would run code as root (LD_PRELOAD)", "POST /functions/f/versions {env: {LD_PRELOAD: /tmp/x.so}}", 400,
                "LD_PRELOAD is not allowed", r -> json(r, deploy("dev.spore.gateway.fixtures.Echo",
                        Map.of("env", Map.of("LD_PRELOAD", "/tmp/x.so")))).post("/functions/" + FN + "-x/versions"));
        tried("environment that replaces PATH", "POST /functions/f/versions {env: {PATH: /tmp/bin}}", 400, "PATH is not allowed",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("env", Map.of("PATH", "/tmp/bin"))))
                        .post("/functions/" + FN + "-x/versions"));
        tried("javaHome that is not a JDK", "POST /functions/f/versions {javaHome: /tmp}", 400, "/tmp",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("javaHome", "/tmp"))).post("/functions/" + FN + "-x/versions"));
        tried("upload id that does not exist", "POST /functions/f/versions {upload: nosuch}", 400, "nosuch",
                r -> json(r, Map.of("handler", "a.B", "upload", "nosuch")).post("/functions/" + FN + "-x/versions"));
        tried("jarBase64 that is not base64", "POST /functions/f/versions {jarBase64: \"%%%\"}", 400, "base64",
                r -> json(r, Map.of("handler", "a.B", "jarBase64", "%%%")).post("/functions/" + FN + "-x/versions"));
        tried("malformed JSON", "POST /functions/f/versions '{not json'", 400, "not valid JSON",
                r -> r.contentType(ContentType.JSON).body("{not json").post("/functions/" + FN + "-x/versions"));
        tried("a field of the wrong type", "POST /functions/f/versions {concurrency: \"many\"}", 400, "concurrency",
                r -> json(r, deploy("dev.spore.gateway.fixtures.Echo", Map.of("concurrency", "many"))).post("/functions/" + FN + "-x/versions"));
        tried("unknown endpoint", "GET /nope", 404, "/nope", r -> r.get("/nope"));
        tried("method an endpoint does not take", "PATCH /functions/FN", 405, "Method Not Allowed", r -> r.patch("/functions/" + FN));
        tried("upload that is not a zip", "POST /uploads (text body)", 400, "zip",
                r -> r.contentType("application/java-archive").body("not a zip".getBytes(java.nio.charset.StandardCharsets.UTF_8)).post("/uploads"));
        rawTried("upload declared over the limit", "POST /uploads Content-Length: 1 TiB", 413, "268435456",
                "POST /uploads HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/java-archive\r\n"
                        + "Content-Length: 1099511627776\r\nConnection: close\r\n\r\n");
        rawTried("invocation declared over the body limit", "POST /invoke/FN Content-Length: 1 TiB", 413, "max-body-size",
                "POST /invoke/" + FN + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1099511627776\r\nConnection: close\r\n\r\n");
        // refused by the HTTP codec (Netty) before any route: a bare 400, the status line is all it says
        rawTried("upload with a Content-Length that is not a number", "POST /uploads Content-Length: lots", 400, "",
                "POST /uploads HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/java-archive\r\n"
                        + "Content-Length: lots\r\nConnection: close\r\n\r\n");
        tried("alias to a version that does not exist", "PUT /functions/FN/aliases/live {version: 42}", 404, "42",
                r -> json(r, Map.of("version", 42)).put("/functions/" + FN + "/aliases/live"));
        tried("delete a version that does not exist", "DELETE /functions/FN/versions/42", 404, "42",
                r -> r.delete("/functions/" + FN + "/versions/42"));
        tried("logs of an unknown function", "GET /functions/no-such-fn/logs", 404, "no-such-fn",
                r -> r.get("/functions/no-such-fn/logs"));
        tried("cordon an unknown node", "POST /nodes/no-such-node/cordon", 404, "no-such-node",
                r -> r.post("/nodes/no-such-node/cordon"));

        // the gateway is still up and still serves the good function
        given().get("/q/health/ready").then().statusCode(200);
        given().body("still here").post("/invoke/" + FN).then().statusCode(200);
        assertThat(TABLE).hasSize(34);
        SOFTLY.assertAll();
    }

    /** A request RestAssured will not send (a forged Content-Length), over a plain socket. */
    private static void rawTried(String what, String request, int status, String mentions, String raw) {
        try (java.net.Socket s = new java.net.Socket("localhost", io.restassured.RestAssured.port)) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(raw.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String answer = readAnswer(s.getInputStream()); // not to EOF: a 413 leaves the connection open for the body
            int code = Integer.parseInt(answer.substring(9, 12));
            String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
            String message = body.contains("\"message\"") ? io.restassured.path.json.JsonPath.from(body).getString("message") : body;
            record(what, request, code, message);
            SOFTLY.assertThat(code).as(what + ": " + answer).isEqualTo(status);
            if (!mentions.isEmpty()) {
                SOFTLY.assertThat(message).as(what + ": a message naming what was wrong, got " + answer)
                        .isNotBlank().isNotEqualToIgnoringCase("null").containsIgnoringCase(mentions);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(what, e);
        }
    }

    /** The status line, headers and a Content-Length body of one HTTP/1.1 answer. */
    private static String readAnswer(java.io.InputStream in) throws IOException {
        java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
        while (!head.toString(java.nio.charset.StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
        }
        String h = head.toString(java.nio.charset.StandardCharsets.US_ASCII);
        var m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(h);
        byte[] body = m.find() ? in.readNBytes(Integer.parseInt(m.group(1))) : new byte[0];
        return h + new String(body, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static void record(String what, String request, int status, String message) {
        TABLE.add("| " + what + " | `" + request.replace("|", "\\|") + "` | " + status + " | "
                + String.valueOf(message).replace("|", "\\|").replace("\n", " ") + " |");
    }

    private static Map<String, Object> deploy(String handler, Map<String, Object> extra) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("handler", handler);
        m.put("jarPath", jar.toString());
        m.putAll(extra);
        return m;
    }

    private static RequestSpecification json(RequestSpecification r, Map<String, Object> body) {
        return r.contentType(ContentType.JSON).body(body);
    }

    /** Sends one bad input, asserts its status and message, records the row. */
    private static void tried(String what, String request, int status, String mentions,
                              Function<RequestSpecification, Response> send) {
        Response r = send.apply(given());
        String body = r.asString();
        String message = r.getContentType() != null && r.getContentType().contains("json") ? r.jsonPath().getString("message") : body;
        record(what, request, r.statusCode(), message);
        SOFTLY.assertThat(r.statusCode()).as(what + ": " + body).isEqualTo(status);
        SOFTLY.assertThat(message).as(what + ": a message naming what was wrong, got " + body)
                .isNotBlank().isNotEqualToIgnoringCase("null").containsIgnoringCase(mentions);
    }
}
