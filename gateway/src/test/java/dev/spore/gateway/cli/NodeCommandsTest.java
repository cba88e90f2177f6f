package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code spore nodes}' table from the gateway's JSON. */
class NodeCommandsTest {

    @Test
    void theTableShowsOneLinePerNodeWithStateHeartbeatAndCache() throws Exception {
        JsonNode list = Client.JSON.readTree("[{\"name\":\"local\",\"address\":\"\",\"state\":\"ready\",\"lastHeartbeatAgeMs\":0,"
                + "\"instances\":1,\"startsInFlight\":0,\"startCap\":4,\"cachedSnapshots\":[],\"memoryAvailableBytes\":2147483648,"
                + "\"staticNode\":true},{\"name\":\"b\",\"address\":\"10.213.7.2:7100\",\"state\":\"down\",\"lastHeartbeatAgeMs\":4500,"
                + "\"instances\":3,\"startsInFlight\":1,\"startCap\":2,\"cachedSnapshots\":[\"hello.v1\",\"q.v2\"],"
                + "\"memoryAvailableBytes\":1073741824,\"staticNode\":false}]");
        String[] lines = NodeCommands.table(list).split("\\n");
        assertThat(lines).hasSize(3);
        assertThat(lines[0]).startsWith("NODE").contains("STATE", "HEARTBEAT", "CACHED");
        assertThat(lines[1]).startsWith("local").contains("ready", "(embedded)", "static", "0/4", "2.0 GiB");
        assertThat(lines[2]).startsWith("b").contains("down", "10.213.7.2:7100", "4.5s ago", "1/2", "hello.v1,q.v2");
    }
}
