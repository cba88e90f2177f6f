package dev.spore.gateway.cluster;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

/**
 * The control plane's HTTP surface on the real application: heartbeat authentication, {@code GET /nodes} JSON,
 * cordon / uncordon, and the node meters. Nodes are fakes ({@link FakeConnector}); node names carry a random
 * suffix because the application outlives one test.
 */
@QuarkusTest
class ClusterHttpTest {

    static final String TOKEN = "test-token-0123456789abcdef";
    static final String NODE = "n-" + Long.toHexString(System.nanoTime() & 0xffffff);

    @BeforeAll
    static void token() throws Exception {
        Path f = Path.of("target/test-data/cluster-token");
        Files.createDirectories(f.getParent());
        Files.writeString(f, TOKEN + "\n");
    }

    static String facts(String name) {
        return "{\"name\":\"" + name + "\",\"address\":\"10.213.7.5:7100\",\"memoryTotalBytes\":17179869184,"
                + "\"memoryAvailableBytes\":8589934592,\"instances\":2,\"restoresInFlight\":0,\"maxConcurrentRestores\":3,"
                + "\"cachedSnapshots\":[\"hello.v1\"],\"criuVersion\":\"4.1.1\",\"javaHomes\":[\"/usr/lib/jvm/x\"],"
                + "\"kernel\":\"6.18\",\"cordoned\":false}";
    }

    @Test
    void heartbeatsWithoutTheRightTokenAre401WithAJsonError() {
        given().contentType(ContentType.JSON).body(facts(NODE + "-x")).post("/cluster/heartbeat").then().statusCode(401)
                .body("error", equalTo("unauthenticated")).body("message", containsString("missing `Authorization: Bearer"));
        given().contentType(ContentType.JSON).header("Authorization", "Bearer wrong-token-0123456789")
                .body(facts(NODE + "-x")).post("/cluster/heartbeat").then().statusCode(401)
                .body("message", containsString("wrong token")).body("message", not(containsString(TOKEN)));
        given().get("/nodes").then().statusCode(200).body("name", not(hasItem(NODE + "-x")));
    }

    @Test
    void aNodeJoinsByHeartbeatIsListedAndCanBeCordoned() {
        given().contentType(ContentType.JSON).header("Authorization", "Bearer " + TOKEN).body(facts(NODE))
                .post("/cluster/heartbeat").then().statusCode(200).body("state", equalTo("ready"));
        given().get("/nodes").then().statusCode(200).body("name", hasItem(NODE));
        given().get("/nodes/" + NODE).then().statusCode(200)
                .body("state", equalTo("ready")).body("address", equalTo("10.213.7.5:7100"))
                .body("instances", equalTo(2)).body("startsInFlight", equalTo(0)).body("startCap", equalTo(3))
                .body("cachedSnapshots", hasItem("hello.v1")).body("memoryAvailableBytes", equalTo(8589934592L))
                .body("staticNode", equalTo(false));
        given().post("/nodes/" + NODE + "/cordon").then().statusCode(200).body("state", equalTo("cordoned"));
        given().contentType(ContentType.JSON).header("Authorization", "Bearer " + TOKEN).body(facts(NODE))
                .post("/cluster/heartbeat").then().statusCode(200).body("state", equalTo("cordoned"));
        given().post("/nodes/" + NODE + "/uncordon").then().statusCode(200).body("state", equalTo("ready"));
        given().get("/nodes/no-such-node").then().statusCode(404).body("message", containsString("node=no-such-node is not known"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("spore_nodes{state=\"ready\"}"));
    }

    @Test
    void aHeartbeatWithoutFactsIs400() {
        given().contentType(ContentType.JSON).header("Authorization", "Bearer " + TOKEN).body("{}")
                .post("/cluster/heartbeat").then().statusCode(400).body("message", containsString("\"name\""));
    }
}
