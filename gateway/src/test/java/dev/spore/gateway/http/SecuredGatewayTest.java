package dev.spore.gateway.http;

import dev.spore.gateway.cli.SporeCli;
import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.security.ApiTokens;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * The gateway with an API tokens file, on the real application (real HTTP, real deploys with CRIU): roles,
 * 401/403 bodies, streamed uploads and their limit, config validation, secrets, audit lines and the result cap.
 * The profile lowers the upload limit to 32 MiB and the result cap to 4 KiB so the tests stay small.
 */
@QuarkusTest
@TestProfile(SecuredGatewayTest.Secured.class)
class SecuredGatewayTest {

    static final String FN = "sec-" + Long.toHexString(System.nanoTime() & 0xffffff);
    static final Path DATA = Path.of("target/test-data/secured").toAbsolutePath();
    static final long UPLOAD_LIMIT = 32L << 20;
    static final List<String> AUDIT = new CopyOnWriteArrayList<>();
    static final Handler CAPTURE = new Handler() {
        @Override
        public void publish(LogRecord r) {
            AUDIT.add(r.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    public static class Secured implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            try {
                Path dir = Files.createDirectories(Path.of("target/test-tokens"));
                StringBuilder lines = new StringBuilder();
                for (String role : List.of("deploy", "invoke", "read", "admin")) {
                    lines.append(role).append("er:").append(HexFormat.of().formatHex(ApiTokens.digest(token(role))))
                            .append(':').append(role).append('\n');
                }
                Path f = Files.writeString(dir.resolve("tokens"), lines);
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
                return Map.of("spore.api.tokens-file", f.toAbsolutePath().toString(),
                        "spore.data-dir", DATA.toString(),
                        "%test.spore.data-dir", DATA.toString(),
                        "spore.upload.max-bytes", Long.toString(UPLOAD_LIMIT),
                        "spore.invoke.max-result-bytes", "4096");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @TestHTTPResource("/")
    URL base;

    static String token(String role) {
        return "test-token-for-" + role;
    }

    static RequestSpecification as(String role) {
        return given().header("Authorization", "Bearer " + token(role));
    }

    @BeforeAll
    static void captureAudit() throws IOException {
        Logger.getLogger("spore.audit").addHandler(CAPTURE);
        Path uploads = DATA.resolve("uploads");
        if (Files.isDirectory(uploads)) { // what an aborted earlier run may have left
            try (Stream<Path> s = Files.list(uploads)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @AfterAll
    static void stopCapture() {
        Logger.getLogger("spore.audit").removeHandler(CAPTURE);
    }

    @Test
    void eachRoleGetsWhatItShouldAndNothingElse() {
        given().get("/functions").then().statusCode(401).header("WWW-Authenticate", containsString("Bearer"))
                .body("error", equalTo("unauthenticated")).body("message", containsString("needs role read"))
                .body("message", containsString("SPORE_TOKEN"));
        given().header("Authorization", "Bearer wrong").get("/functions").then().statusCode(401).body("error", equalTo("unauthenticated"));
        as("invoke").get("/functions").then().statusCode(403).body("error", equalTo("forbidden"))
                .body("message", containsString("token=invokeer")).body("message", containsString("needs role read"));
        as("read").get("/functions").then().statusCode(200);
        as("admin").get("/functions").then().statusCode(200);

        given().body("x").post("/invoke/" + FN).then().statusCode(401).body("message", containsString("needs role invoke"));
        as("read").body("x").post("/invoke/" + FN).then().statusCode(403).body("message", containsString("needs role invoke"));
        as("invoke").body("x").post("/invoke/no-such-fn").then().statusCode(404);

        as("read").delete("/functions/" + FN).then().statusCode(403).body("message", containsString("needs role deploy"));
        as("invoke").contentType(ContentType.JSON).body(Map.of("version", 1)).put("/functions/" + FN + "/aliases/prod")
                .then().statusCode(403).body("message", containsString("needs role deploy"));
        as("read").contentType("application/java-archive").body(new byte[10]).post("/uploads").then().statusCode(403)
                .body("message", containsString("needs role deploy"));
        as("deploy").delete("/functions/no-such-fn").then().statusCode(404);

        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(401);
        as("read").get("/q/metrics").then().statusCode(200);
    }

    @Test
    void streamedUploadDeploysAndSecretsNeverComeBack() throws Exception {
        Path jar = bigJar(30 << 20);
        String upload = as("deploy").contentType("application/java-archive").body(jar.toFile()).post("/uploads")
                .then().statusCode(201).body("bytes", equalTo((int) Files.size(jar))).extract().path("upload");

        String secret = "s3cr3t-" + Long.toHexString(new Random().nextLong());
        String deployed = as("deploy").contentType(ContentType.JSON)
                .body(Map.of("handler", "dev.spore.gateway.fixtures.Echo", "upload", upload, "config", Map.of("greeting", secret)))
                .post("/functions/" + FN + "/versions").then().statusCode(201).extract().asString();
        assertThat(deployed).doesNotContain(secret).contains("configKeys").contains("greeting");
        assertThat(Files.list(DATA.resolve("uploads")).map(p -> p.getFileName().toString())).doesNotContain("up-" + upload + ".jar");

        as("invoke").body("web").post("/invoke/" + FN).then().statusCode(200).body(equalTo(secret + " web"));

        String described = as("read").get("/functions/" + FN).then().statusCode(200).extract().asString();
        assertThat(described).doesNotContain(secret).contains("greeting");
        assertThat(as("read").get("/functions/" + FN + "/versions/1").then().statusCode(200).extract().asString()).doesNotContain(secret);
        Path v1 = DATA.resolve("functions").resolve(FN).resolve("v1");
        assertThat(Files.readString(v1.resolve("version.json"))).doesNotContain(secret).contains("greeting");
        assertThat(Files.readString(v1.resolve("config.json"))).contains(secret);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(v1.resolve("config.json")))).isEqualTo("rw-------");

        // the result cap (4 KiB in this profile) is a clear 502 naming it
        as("invoke").body("x".repeat(5000)).post("/invoke/" + FN).then().statusCode(502)
                .body("error", equalTo("result-too-large")).body("message", containsString("4096"))
                .body("message", containsString("spore.invoke.max-result-bytes"));

        as("deploy").contentType(ContentType.JSON).body(Map.of("version", 1)).put("/functions/" + FN + "/aliases/prod").then().statusCode(200);
        assertThat(AUDIT).anySatisfy(l -> assertThat(l).contains("who=deployer action=upload upload=" + upload).contains("result=ok"))
                .anySatisfy(l -> assertThat(l).contains("who=deployer action=deploy fn=" + FN + " v=1 result=ok"))
                .anySatisfy(l -> assertThat(l).contains("who=deployer action=alias fn=" + FN + " alias=prod v=1 result=ok"));
        as("admin").delete("/functions/" + FN).then().statusCode(200);
        assertThat(AUDIT).anySatisfy(l -> assertThat(l).contains("who=adminer action=delete fn=" + FN).contains("result=ok"));
    }

    @Test
    void oversizedOrBadUploadsAreRefusedAndLeaveNothing() throws Exception {
        // declared too large (Content-Length), sent the way the CLI sends it: refused, the body discarded, 413 read
        HttpRequest declared = HttpRequest.newBuilder(URI.create(base + "uploads"))
                .header("Authorization", "Bearer " + token("deploy")).header("Content-Type", "application/java-archive")
                .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new ZeroStream(UPLOAD_LIMIT + 1)), UPLOAD_LIMIT + 1)).build();
        HttpResponse<String> refused = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(declared, HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(413);
        assertThat(refused.body()).contains("too-large").contains("upload of " + (UPLOAD_LIMIT + 1) + " bytes")
                .contains("limit of " + UPLOAD_LIMIT + " bytes (spore.upload.max-bytes)");

        // chunked (no Content-Length): refused once it passes the limit, the partial file deleted
        HttpRequest chunked = HttpRequest.newBuilder(URI.create(base + "uploads"))
                .header("Authorization", "Bearer " + token("deploy")).header("Content-Type", "application/java-archive")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ZeroStream(UPLOAD_LIMIT + (4 << 20)))).build();
        try {
            HttpResponse<String> r = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(chunked, HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(413);
            assertThat(r.body()).contains("too-large").contains(Long.toString(UPLOAD_LIMIT));
        } catch (IOException e) {
            // the gateway answered 413 and closed while the JDK client was still sending, which it reports as an I/O
            // error without the response: then what is checked is that no partial file stays (below)
        }

        as("deploy").contentType("application/java-archive").body("not a zip".getBytes(StandardCharsets.UTF_8)).post("/uploads")
                .then().statusCode(400).body("message", containsString("not a jar"));
        awaitNoPartialUploads();

        // jarPath reads a file of the gateway's machine: admin only (a deploy token could run any root-only zip)
        as("deploy").contentType(ContentType.JSON).body(Map.of("handler", "dev.spore.gateway.fixtures.Echo",
                        "jarPath", FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars"))).toAbsolutePath().toString()))
                .post("/functions/bypath-" + FN + "/versions").then().statusCode(403)
                .body("message", containsString("jarPath reads a file on the gateway's machine, which needs role admin"));
        as("admin").contentType(ContentType.JSON).body(Map.of("handler", "dev.spore.gateway.fixtures.Echo",
                        "jarPath", FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars"))).toAbsolutePath().toString(),
                        "config", Map.of("bad key!", "v")))
                .post("/functions/badcfg-" + FN + "/versions").then().statusCode(400)
                .body("message", containsString("config key 'bad key!' is invalid"));
        as("admin").contentType(ContentType.JSON).body(Map.of("handler", "dev.spore.gateway.fixtures.Echo", "jarPath", "/x.jar",
                        "config", Map.of("big", "v".repeat(5000))))
                .post("/functions/badcfg-" + FN + "/versions").then().statusCode(400).body("message", containsString("4096"));
    }

    @Test
    void theCliStreamsItsJarWithItsTokenAndSaysWhatIsMissingWithout() throws Exception {
        Path tokenFile = Files.writeString(Path.of("target/test-tokens/deployer.token"), token("deploy") + "\n");
        Path jar = FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars")));
        String url = base.toString();
        StringWriter err = new StringWriter();
        var cl = SporeCli.commandLine();
        cl.setErr(new PrintWriter(err));
        int code = cl.execute("--gateway", url, "deploy", "cli-" + FN, "--jar", jar.toString(), "--handler", "dev.spore.gateway.fixtures.Echo");
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("401").contains("SPORE_TOKEN").doesNotContain("null");

        code = SporeCli.commandLine().execute("--gateway", url, "--token-file", tokenFile.toString(), "deploy", "cli-" + FN,
                "--jar", jar.toString(), "--handler", "dev.spore.gateway.fixtures.Echo", "--no-checkpoint", "--secret", "greeting=cold-secret");
        assertThat(code).isEqualTo(0);
        as("read").get("/functions/cli-" + FN).then().statusCode(200).body("versions[0].status", equalTo("ready"))
                .body(org.hamcrest.Matchers.not(containsString("cold-secret")));
        // a cold start gets its configuration from a 0600 file it deletes, not from -D options on its command line
        as("invoke").body("web").post("/invoke/cli-" + FN).then().statusCode(200).header("X-Spore-Start", "cold")
                .body(equalTo("cold-secret web"));
        as("deploy").delete("/functions/cli-" + FN).then().statusCode(200);
    }

    private static void awaitNoPartialUploads() throws Exception {
        Path dir = DATA.resolve("uploads");
        long deadline = System.nanoTime() + 10_000_000_000L; // deletion is asynchronous; this bounds the wait, not a speed
        while (true) {
            List<String> left;
            try (Stream<Path> s = Files.list(dir)) {
                left = s.map(p -> p.getFileName().toString()).toList();
            }
            if (left.isEmpty() || System.nanoTime() > deadline) {
                assertThat(left).as("partial uploads left behind").isEmpty();
                return;
            }
            Thread.sleep(50);
        }
    }

    /** A jar with the fixture classes and {@code bytes} of incompressible padding (a stored entry). */
    static Path bigJar(int bytes) throws IOException {
        Path small = FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars")));
        Path jar = Path.of("target/test-jars/big.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out);
             JarInputStream in = new JarInputStream(Files.newInputStream(small))) {
            for (JarEntry e; (e = in.getNextJarEntry()) != null; ) {
                j.putNextEntry(new JarEntry(e.getName()));
                in.transferTo(j);
                j.closeEntry();
            }
            j.putNextEntry(new JarEntry("padding.bin"));
            Random r = new Random(1);
            byte[] chunk = new byte[1 << 20];
            for (int i = 0; i < bytes >> 20; i++) {
                r.nextBytes(chunk);
                j.write(chunk);
            }
            j.closeEntry();
        }
        return jar;
    }

    /** {@code n} zero bytes without holding them. */
    static final class ZeroStream extends InputStream {
        private long left;

        ZeroStream(long n) {
            left = n;
        }

        @Override
        public int read() {
            return left-- > 0 ? 0 : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            java.util.Arrays.fill(b, off, off + n, (byte) 0);
            left -= n;
            return n;
        }
    }
}
