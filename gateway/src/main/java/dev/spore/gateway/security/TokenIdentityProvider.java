package dev.spore.gateway.security;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/** Turns a bearer token into an identity (the token's name and roles) through {@link ApiTokens}. Non-blocking. */
@ApplicationScoped
public class TokenIdentityProvider implements IdentityProvider<TokenAuthenticationRequest> {

    @Inject
    ApiSecurity security;

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
        ApiTokens.Caller c = security.caller(request.getToken().getToken());
        if (c == null) {
            return Uni.createFrom().failure(new AuthenticationFailedException(
                    "the bearer token is not one of the gateway's API tokens: check SPORE_TOKEN or --token-file"));
        }
        return Uni.createFrom().item(BearerAuthMechanism.identity(c));
    }
}
