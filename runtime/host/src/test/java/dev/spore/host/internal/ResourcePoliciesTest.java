package dev.spore.host.internal;

import dev.spore.host.internal.ResourcePolicies.Action;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ResourcePoliciesTest {

    @Test
    void firstMatchingRuleWinsAndUnmatchedDescriptorsAreErrors() throws IOException {
        ResourcePolicies p = ResourcePolicies.parse(List.of(
                "# CRaC's format",
                "type: file",
                "path: /var/log/**.log   # any depth",
                "action: reopen",
                "---",
                "type: file",
                "path: '/etc/*'",
                "action: IGNORE",
                "---",
                "type: socket",
                "path: /run/app.sock",
                "action: error",
                "---",
                "type: socket",
                "action: close"), "p.yaml");
        assertThat(p.actionFor("file", "/var/log/app/x.log")).isEqualTo(Action.REOPEN);
        assertThat(p.actionFor("file", "/etc/hosts")).isEqualTo(Action.IGNORE);
        assertThat(p.actionFor("file", "/tmp/data.bin")).isEqualTo(Action.ERROR);
        assertThat(p.actionFor("socket", "/run/app.sock")).isEqualTo(Action.ERROR);
        assertThat(p.actionFor("socket", "")).isEqualTo(Action.CLOSE);
    }

    @Test
    void badRulesNameTheFileAndLine() {
        assertThatThrownBy(() -> ResourcePolicies.parse(List.of("type: file", "action: close", "---", "type: pipe", "action: close"), "p.yaml"))
                .hasMessageContaining("p.yaml:4").hasMessageContaining("pipe");
        assertThatThrownBy(() -> ResourcePolicies.parse(List.of("type: socket", "action: reopen"), "p.yaml"))
                .hasMessageContaining("p.yaml:1").hasMessageContaining("use close");
        assertThatThrownBy(() -> ResourcePolicies.parse(List.of("type: file", "mode: close"), "p.yaml"))
                .hasMessageContaining("p.yaml:2").hasMessageContaining("mode: close");
    }
}
