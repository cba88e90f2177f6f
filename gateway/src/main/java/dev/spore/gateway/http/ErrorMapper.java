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
        body.put("message", e.getMessage());
        return Response.status(e.status()).type(MediaType.APPLICATION_JSON).entity(body).build();
    }
}
