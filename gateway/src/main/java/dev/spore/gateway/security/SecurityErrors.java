package dev.spore.gateway.security;

import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import io.quarkus.security.identity.CurrentIdentityAssociation;
import io.quarkus.security.identity.SecurityIdentity;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * 401 and 403 as the API's usual JSON {@code {error, message}}: the message names the role the endpoint
 * needs, the caller's token name and roles, and how to pass a token.
 */
public class SecurityErrors {

    @Inject
    CurrentIdentityAssociation identity;

    @ServerExceptionMapper({UnauthorizedException.class, AuthenticationFailedException.class})
    public Response unauthenticated(RuntimeException e, ResourceInfo info) {
        String msg = "no valid API token" + (e.getMessage() != null && !e.getMessage().isBlank() ? " (" + e.getMessage() + ")" : "")
                + ": this endpoint needs role " + needed(info) + ". Send `Authorization: Bearer TOKEN` (spore: set SPORE_TOKEN "
                + "or --token-file F)";
        return json(401, "unauthenticated", msg).header("WWW-Authenticate", BearerAuthMechanism.CHALLENGE).build();
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e, ResourceInfo info) {
        SecurityIdentity who = identity.getIdentity();
        String name = who == null || who.isAnonymous() ? "anonymous" : who.getPrincipal().getName();
        String has = who == null ? "[]" : new TreeSet<>(who.getRoles()).toString();
        return json(403, "forbidden", "token=" + name + " has roles " + has + " but this endpoint needs role " + needed(info)
                + ": use a token with that role (the gateway's tokens file lists NAME:SHA256:ROLES)").build();
    }

    static String needed(ResourceInfo info) {
        Method m = info == null ? null : info.getResourceMethod();
        RolesAllowed r = m == null ? null : m.getAnnotation(RolesAllowed.class);
        if (r == null && info != null && info.getResourceClass() != null) {
            r = info.getResourceClass().getAnnotation(RolesAllowed.class);
        }
        return r == null ? "(see gateway/README.md)" : String.join(" or ", Arrays.asList(r.value()));
    }

    static Response.ResponseBuilder json(int status, String code, String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", code);
        body.put("message", message);
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(body);
    }
}
