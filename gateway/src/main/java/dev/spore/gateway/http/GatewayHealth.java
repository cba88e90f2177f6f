package dev.spore.gateway.http;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once the core runs (registry loaded, agent created, CRIU found). */
@Readiness
@ApplicationScoped
public class GatewayHealth implements HealthCheck {

    @Inject
    GatewayLifecycle lifecycle;

    @Override
    public HealthCheckResponse call() {
        if (!lifecycle.started()) {
            return HealthCheckResponse.down("spore-gateway");
        }
        var g = lifecycle.gateway();
        return HealthCheckResponse.named("spore-gateway").up()
                .withData("functions", g.registry().functions().size())
                .withData("engine", g.engine().describe())
                .build();
    }
}
