package dev.spore.gateway.http;

import dev.spore.gateway.fixtures.FixtureJars;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * The HTTP surface on the real application: REST deploy (plain and NDJSON-streamed), the raw invoke route,
 * error statuses, metrics, OpenAPI and health. Function names carry a random suffix: the test data
 * directory survives between runs. Quarkus stops the gateway after the tests, which stops every instance.
 */
@QuarkusTest
class GatewayHttpTest {

    static final String FN = "http-" + Long.toHexString(System.nanoTime() & 0xffffff);

    static Path jar() throws Exception {
        return FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars")));
    }

    @Test
    void deployStreamsStagesThenInvokeIsServedByARestoredInstance() throws Exception {
        String stream = given().contentType(ContentType.JSON).accept("application/x-ndjson")
                .body(Map.of("handler", "dev.spore.gateway.fixtures.Echo", "jarPath", jar().toAbsolutePath().toString(),
                        "config", Map.of("greeting", "hey")))
                .post("/functions/" + FN + "/versions").then().statusCode(200).extract().asString();
        org.assertj.core.api.Assertions.assertThat(stream.lines())
                .anySatisfy(l -> org.assertj.core.api.Assertions.assertThat(l).contains("\"stage\":\"checkpointing\"", "\"bytes\""))
                .anySatisfy(l -> org.assertj.core.api.Assertions.assertThat(l).contains("\"event\":\"result\"", "\"status\":201"));

        given().body("web").post("/invoke/" + FN).then().statusCode(200)
                .header("X-Spore-Start", "restored").body(equalTo("hey web"));
        given().body("again").post("/invoke/" + FN + "/1").then().statusCode(200)
                .header("X-Spore-Start", "warm").body(equalTo("hey again"));
        given().body("boom").post("/invoke/" + FN).then().statusCode(500).body("error", equalTo("function-error"));
        // curl -d sends application/x-www-form-urlencoded: a payload is bytes whatever its type (over 2 KiB it was a 500)
        String big = "x".repeat(20_000);
        given().contentType("application/x-www-form-urlencoded").body(big).post("/invoke/" + FN).then().statusCode(200)
                .body(equalTo("hey " + big));

        given().get("/functions/" + FN).then().statusCode(200).body("versions[0].status", equalTo("ready"));
        given().get("/functions/" + FN + "/logs").then().statusCode(200).body(containsString("== instance=" + FN));
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("spore_starts_total{function=\"" + FN + "\",kind=\"restored\",version=\"1\"}"))
                .body(containsString("spore_restore_milliseconds_bucket"))
                .body(containsString("spore_snapshot_bytes"));

        // the restore's bytes from the store (the in-process node's store is local:DIR) and the node's cache numbers
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        String fn = "{function=\"" + FN + "\",transport=\"local\"}";
        double ready = value(metrics, "spore_restore_fetched_bytes_sum" + fn);
        double before = value(metrics, "spore_restore_fetched_bytes_before_first_response_sum" + fn);
        org.assertj.core.api.Assertions.assertThat(value(metrics, "spore_restore_fetched_bytes_before_first_response_count" + fn))
                .as("one restore answered a first invocation").isEqualTo(1);
        org.assertj.core.api.Assertions.assertThat(before).as("a first restore on the node moved the image from the store")
                .isGreaterThan(0).isGreaterThanOrEqualTo(ready);
        org.assertj.core.api.Assertions.assertThat(value(metrics, "spore_restore_fetched_bytes_all_total" + fn))
                .as("the total counts at least what moved before the first response").isGreaterThanOrEqualTo(before);
        double used = value(metrics, "spore_node_cache_used_bytes{node=\"local\"}");
        double max = value(metrics, "spore_node_cache_max_bytes{node=\"local\"}");
        org.assertj.core.api.Assertions.assertThat(used).as("the cached image and the node copy").isGreaterThanOrEqualTo(before);
        org.assertj.core.api.Assertions.assertThat(max).as("the cap (25% of the cache's file system by default)").isGreaterThan(used);
        org.assertj.core.api.Assertions.assertThat(value(metrics, "spore_node_cache_misses_total{node=\"local\"}"))
                .as("the first restore's fetch got chunks from the store").isGreaterThanOrEqualTo(1);
        org.assertj.core.api.Assertions.assertThat(metrics).contains("spore_node_cache_hits_total{node=\"local\"}",
                "spore_node_cache_evictions_total{node=\"local\"}");
    }

    /** The value of the one sample line that starts with {@code series} ({@code name{labels}}) in Prometheus text. */
    static double value(String metrics, String series) {
        java.util.List<String> lines = metrics.lines().filter(l -> l.startsWith(series + " ")).toList();
        org.assertj.core.api.Assertions.assertThat(lines).as("sample " + series + " in /q/metrics").hasSize(1);
        return Double.parseDouble(lines.get(0).substring(series.length() + 1).trim().split(" ")[0]);
    }

    @Test
    void badRequestsGetClear4xx() throws Exception {
        given().body("x").post("/invoke/no-such-fn").then().statusCode(404).body("error", equalTo("not-found"));
        given().contentType(ContentType.JSON).body(Map.of("handler", "a.B", "jarPath", "/nonexistent.jar"))
                .post("/functions/bad-" + FN + "/versions").then().statusCode(400).body("message", containsString("not a readable file"));
        given().contentType(ContentType.JSON).body(Map.of("handler", "dev.spore.gateway.fixtures.Greet",
                        "jarPath", jar().toAbsolutePath().toString()))
                .post("/functions/greet-" + FN + "/versions").then().statusCode(201);
        given().body("not json").post("/invoke/greet-" + FN).then().statusCode(400).body("error", equalTo("bad-request"));
        given().contentType(ContentType.JSON).body(Map.of("handler", "x", "jarPath", "/x", "concurrency", 0))
                .post("/functions/Bad_Name/versions").then().statusCode(400).body("message", containsString("function name"));
    }

    /**
     * Functions share the host's network by default: on an open gateway (loopback, no tokens) a function JVM must not
     * be an admin. A process of a function uid (here 1500000, inside the default uid-range) may invoke, not deploy,
     * delete or read.
     */
    @Test
    void aFunctionJvmOnThisHostMayInvokeButNotControlAnOpenGateway() throws Exception {
        given().contentType(ContentType.JSON).body(Map.of("handler", "dev.spore.gateway.fixtures.Echo",
                "jarPath", jar().toAbsolutePath().toString())).post("/functions/victim-" + FN + "/versions").then().statusCode(201);
        String base = "http://localhost:" + io.restassured.RestAssured.port;
        org.assertj.core.api.Assertions.assertThat(asFunctionUid("-X", "DELETE", base + "/functions/victim-" + FN))
                .startsWith("403").contains("token=function has roles [invoke]");
        org.assertj.core.api.Assertions.assertThat(asFunctionUid(base + "/functions")).startsWith("403");
        org.assertj.core.api.Assertions.assertThat(asFunctionUid("-d", "neighbour", base + "/invoke/victim-" + FN))
                .startsWith("200").contains("hello neighbour");
        given().get("/functions/victim-" + FN).then().statusCode(200); // still there; the operator (root) still controls it
    }

    /** curl run as uid 1500000 (setpriv): "STATUS BODY". */
    private static String asFunctionUid(String... curlArgs) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("setpriv", "--reuid=1500000", "--regid=1500000",
                "--clear-groups", "curl", "-s", "-w", "\n%{http_code}"));
        cmd.addAll(java.util.List.of(curlArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        org.assertj.core.api.Assertions.assertThat(p.waitFor()).as("curl: " + out).isZero();
        int cut = out.lastIndexOf('\n'); // the body, then -w's status on its own line
        return out.substring(cut + 1).strip() + " " + out.substring(0, cut);
    }

    @Test
    void openApiAndHealthAreServed() {
        given().get("/q/openapi").then().statusCode(200).body(containsString("/functions/{name}/versions"))
                .body(containsString("/invoke/{function}"));
        given().get("/q/health/ready").then().statusCode(200).body(containsString("spore-gateway"));
    }
}
