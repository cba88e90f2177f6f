package dev.spore.functions.quarkushello;

import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;

/** Quarkus REST on the app's Vert.x HTTP server: the path a plain Quarkus service would expose. */
@Path("/hello")
public class GreetingResource {

    @Inject
    Greeter greeter;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Reply hello(@QueryParam("name") String name, @Context HttpServerRequest request) {
        return greeter.greet(name, "http", request.localAddress().port());
    }
}
