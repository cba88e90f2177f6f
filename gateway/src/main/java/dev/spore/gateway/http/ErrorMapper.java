package dev.spore.gateway.http;

import dev.spore.gateway.GatewayException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

import java.util.LinkedHashMap;
import java.util.Map;

/** Every refused request answers {@code {"error": code, "message": ...}} with the status the core chose. */
@Provider
public class ErrorMapper implements ExceptionMapper<GatewayException> {

    @Override
    public Response toResponse(GatewayException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", e.code());
        body.put("message", message(e));
        return Response.status(e.status()).type(MediaType.APPLICATION_JSON).entity(body).build();
    }

    /** Never null: the exception's message, else its cause's, else its code and class. */
    static String message(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage();
            }
        }
        return (e instanceof GatewayException g ? g.code() + ": " : "") + e.getClass().getSimpleName() + " (no detail)";
    }
}
