package dev.spore.gateway.http;

import dev.spore.gateway.Gateway;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.InstanceRecord;
import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.VersionRecord;
import dev.spore.gateway.security.ApiTokens;
import io.quarkus.security.identity.SecurityIdentity;
import io.smallrye.common.annotation.Blocking;
import jakarta.annotation.security.RolesAllowed;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestStreamElementType;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Deploy, list, describe, alias and delete functions. Invocation is {@link InvokeRoute}. */
@Path("/functions")
@Tag(name = "functions")
@Produces(MediaType.APPLICATION_JSON)
public class FunctionsResource {

    public static final String NDJSON = "application/x-ndjson";
    private static final ExecutorService DEPLOYS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "spore-deploy");
        t.setDaemon(true);
        return t;
    });

    @Inject
    GatewayLifecycle lifecycle;

    @Inject
    SecurityIdentity identity;

    /**
     * {@code jarPath} makes the gateway read a file of its own machine as root: only an admin may name one (a deploy
     * token could otherwise run any root-only zip on the gateway's host as a function, and probe which files exist).
     */
    private void checkJarPath(DeployRequest request) {
        if (request != null && request.jarPath() != null && !request.jarPath().isBlank() && !identity.hasRole(ApiTokens.ADMIN)) {
            throw new dev.spore.gateway.GatewayException(403, "forbidden", "token=" + who() + ": jarPath reads a file on the "
                    + "gateway's machine, which needs role admin: upload the jar instead (spore deploy without --path does, "
                    + "POST /uploads)");
        }
    }

    private String who() {
        return identity.isAnonymous() ? "anonymous" : identity.getPrincipal().getName();
    }

    private Gateway gateway() {
        return lifecycle.gateway();
    }

    @GET
    @Blocking
    @RolesAllowed(ApiTokens.READ)
    @Operation(summary = "List functions with their newest version's status and live instance count")
    public List<Map<String, Object>> list() {
        return gateway().registry().functions().stream().map(f -> Views.summary(gateway(), f)).toList();
    }

    @POST
    @Path("/{name}/versions")
    @Consumes(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(summary = "Deploy a new version and wait until it is ready (201) or failed (422 with the reason)")
    @RolesAllowed(ApiTokens.DEPLOY)
    public Response deploy(@PathParam("name") String name, DeployRequest request) {
        String who = who();
        checkJarPath(request);
        try {
            VersionRecord v = gateway().deploy(name, request, s -> { });
            Audit.ok(who, "deploy", v.key());
            return Response.status(201).entity(Views.version(gateway(), v)).build();
        } catch (RuntimeException e) {
            Audit.failed(who, "deploy", "fn=" + name, e);
            throw e;
        }
    }

    @POST
    @Path("/{name}/versions")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(NDJSON)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    @Operation(summary = "Deploy a new version, streaming one JSON line per stage (starting, warming, checkpointing, "
            + "publishing, ready or failed) and a last line with event=result")
    @RolesAllowed(ApiTokens.DEPLOY)
    public Multi<Map<String, Object>> deployStreaming(@PathParam("name") String name, DeployRequest request) {
        String who = who();
        checkJarPath(request);
        return Multi.createFrom().emitter(em -> DEPLOYS.execute(() -> {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("event", "result");
            try {
                VersionRecord v = gateway().deploy(name, request, s -> em.emit(stageEvent(s)));
                result.put("status", 201);
                result.put("version", Views.version(gateway(), v));
                Audit.ok(who, "deploy", v.key());
            } catch (GatewayException e) {
                result.put("status", e.status());
                result.put("error", e.code());
                result.put("message", ErrorMapper.message(e));
                Audit.failed(who, "deploy", "fn=" + name, e);
            } catch (RuntimeException e) {
                result.put("status", 500);
                result.put("error", "internal");
                result.put("message", "fn=" + name + ": " + e);
                Audit.failed(who, "deploy", "fn=" + name, e);
            }
            em.emit(result);
            em.complete();
        }));
    }

    private static Map<String, Object> stageEvent(dev.spore.gateway.registry.Stage s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", "stage");
        m.put("function", s.function());
        m.put("version", s.version());
        m.put("stage", s.stage());
        m.put("status", s.status());
        if (s.millis() != null) {
            m.put("millis", s.millis());
        }
        if (s.bytes() != null) {
            m.put("bytes", s.bytes());
        }
        if (s.detail() != null) {
            m.put("detail", s.detail());
        }
        return m;
    }

    @GET
    @Path("/{name}")
    @Blocking
    @RolesAllowed(ApiTokens.READ)
    @Operation(summary = "Describe a function: aliases, versions with status, stages and pool, recent instances")
    public Map<String, Object> describe(@PathParam("name") String name) {
        return Views.function(gateway(), name);
    }

    @GET
    @Path("/{name}/versions/{version}")
    @Blocking
    @RolesAllowed(ApiTokens.READ)
    @Operation(summary = "Describe one version (number or alias, or latest)")
    public Map<String, Object> version(@PathParam("name") String name, @PathParam("version") String version) {
        return Views.version(gateway(), resolveAny(name, version));
    }

    private VersionRecord resolveAny(String name, String ref) {
        // describe should also show failed versions, which resolve() (for invocations) skips for "latest"
        if (ref.matches("v?\\d+")) {
            return gateway().registry().version(name, Integer.parseInt(ref.replace("v", "")));
        }
        return gateway().registry().resolve(name, ref);
    }

    @PUT
    @Path("/{name}/aliases/{alias}")
    @Consumes(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(summary = "Point an alias at a version: body {\"version\": N}")
    @RolesAllowed(ApiTokens.DEPLOY)
    public Map<String, Object> alias(@PathParam("name") String name, @PathParam("alias") String alias, Map<String, Integer> body) {
        Integer v = body == null ? null : body.get("version");
        String what = "fn=" + name + " alias=" + alias + " v=" + v;
        try {
            if (v == null) {
                throw GatewayException.badRequest("fn=" + name + " alias=" + alias + ": body must be {\"version\": N}");
            }
            gateway().registry().setAlias(name, alias, v);
            Audit.ok(who(), "alias", what);
        } catch (RuntimeException e) {
            Audit.failed(who(), "alias", what, e);
            throw e;
        }
        return Map.of("function", name, "alias", alias, "version", v);
    }

    @GET
    @Path("/{name}/instances")
    @Blocking
    @RolesAllowed(ApiTokens.READ)
    @Operation(summary = "Instances of a function, live and recently stopped, newest first")
    public List<InstanceRecord> instances(@PathParam("name") String name) {
        return Views.instances(gateway(), name);
    }

    @DELETE
    @Path("/{name}")
    @Blocking
    @Operation(summary = "Delete a function: stop its instances, drop its snapshots and files")
    @RolesAllowed(ApiTokens.DEPLOY)
    public Map<String, Object> delete(@PathParam("name") String name) throws IOException {
        List<VersionRecord> gone;
        try {
            gone = gateway().delete(name);
            Audit.ok(who(), "delete", "fn=" + name + " versions=" + gone.stream().map(VersionRecord::version).toList());
        } catch (IOException | RuntimeException e) {
            Audit.failed(who(), "delete", "fn=" + name, e);
            throw e;
        }
        return Map.of("function", name, "deletedVersions", gone.stream().map(VersionRecord::version).toList());
    }

    @DELETE
    @Path("/{name}/versions/{version}")
    @Blocking
    @Operation(summary = "Delete one version")
    @RolesAllowed(ApiTokens.DEPLOY)
    public Map<String, Object> deleteVersion(@PathParam("name") String name, @PathParam("version") int version) throws IOException {
        try {
            gateway().deleteVersion(name, version);
            Audit.ok(who(), "delete", "fn=" + name + " v=" + version);
        } catch (IOException | RuntimeException e) {
            Audit.failed(who(), "delete", "fn=" + name + " v=" + version, e);
            throw e;
        }
        return Map.of("function", name, "deletedVersions", List.of(version));
    }

    @GET
    @Path("/{name}/logs")
    @Produces(MediaType.TEXT_PLAIN)
    @Blocking
    @RolesAllowed(ApiTokens.READ)
    @Operation(summary = "Logs of the function's newest instance, or of ?instance=ID; stream=stdout|stderr|both")
    public String logs(@PathParam("name") String name, @QueryParam("instance") String instance,
                       @QueryParam("stream") @DefaultValue("both") String stream, @QueryParam("tail") @DefaultValue("200") int tail) {
        return InstanceLogs.read(gateway(), name, instance, stream, tail);
    }
}
