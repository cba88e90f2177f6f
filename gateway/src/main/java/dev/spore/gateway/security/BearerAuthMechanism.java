package dev.spore.gateway.security;

import io.quarkus.security.credential.TokenCredential;
import io.quarkus.security.identity.IdentityProviderManager;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.AuthenticationRequest;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.quarkus.vertx.http.runtime.security.ChallengeData;
import io.quarkus.vertx.http.runtime.security.HttpAuthenticationMechanism;
import io.quarkus.vertx.http.runtime.security.HttpSecurityUtils;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Set;

/**
 * {@code Authorization: Bearer TOKEN} for the REST API, verified by {@link TokenIdentityProvider}. An open
 * gateway (loopback, no tokens file) makes every caller {@link ApiTokens#LOCAL}. Authentication is not
 * proactive ({@code quarkus.http.auth.proactive=false}): it runs only for endpoints that need a role, so the
 * invoke route, which checks its token itself, pays nothing here.
 */
@ApplicationScoped
public class BearerAuthMechanism implements HttpAuthenticationMechanism {

    static final String CHALLENGE = "Bearer realm=\"spore\"";

    @Inject
    ApiSecurity security;

    @Override
    public Uni<SecurityIdentity> authenticate(RoutingContext ctx, IdentityProviderManager identities) {
        if (!security.enabled()) {
            return Uni.createFrom().item(identity(security.caller(ctx.request())));
        }
        String h = ctx.request().getHeader("Authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Uni.createFrom().optional(java.util.Optional.empty());
        }
        TokenAuthenticationRequest req = new TokenAuthenticationRequest(new TokenCredential(h.substring(7).strip(), "bearer"));
        HttpSecurityUtils.setRoutingContextAttribute(req, ctx);
        return identities.authenticate(req);
    }

    static SecurityIdentity identity(ApiTokens.Caller c) {
        return QuarkusSecurityIdentity.builder().setPrincipal(new QuarkusPrincipal(c.name())).addRoles(c.roles()).build();
    }

    @Override
    public Uni<ChallengeData> getChallenge(RoutingContext context) {
        return Uni.createFrom().item(new ChallengeData(401, "WWW-Authenticate", CHALLENGE));
    }

    @Override
    public Set<Class<? extends AuthenticationRequest>> getCredentialTypes() {
        return Set.of(TokenAuthenticationRequest.class);
    }
}
