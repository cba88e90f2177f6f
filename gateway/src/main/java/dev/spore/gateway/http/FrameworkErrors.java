package dev.spore.gateway.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The refusals Quarkus REST and Jackson make before a resource method runs (a body that is not JSON, a field of the
 * wrong type, an unknown route or method) in the API's usual {@code {"error", "message"}} shape: by default they
 * answer with an empty body, which a deployer cannot act on. {@link ErrorMapper} covers the gateway's own errors.
 */
public class FrameworkErrors {

    /** A body that is not JSON, or JSON whose fields have the wrong types: 400 naming where. */
    @ServerExceptionMapper(value = {JsonProcessingException.class, com.fasterxml.jackson.core.JsonParseException.class,
            MismatchedInputException.class, InvalidFormatException.class}, priority = jakarta.ws.rs.Priorities.USER - 100)
    public Response badJson(JsonProcessingException e, UriInfo uri) {
        String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + " column " + e.getLocation().getColumnNr();
        String field = e instanceof MismatchedInputException m && !m.getPath().isEmpty()
                ? " (field " + m.getPathReference().replaceAll(".*\\[\"?", "").replaceAll("\"?]$", "") + ")" : "";
        String what = e instanceof InvalidFormatException f ? "value '" + f.getValue() + "' has the wrong type" + field
                : e instanceof MismatchedInputException ? "a value has the wrong type" + field
                : "the body is not valid JSON";
        return json(400, "bad-request", path(uri) + ": " + what + where + ": " + e.getOriginalMessage()
                + ". See /q/openapi for the request's shape");
    }

    /** What the framework refused without a body (404 unknown route, 405 method, 415 media type...): said in words. */
    @ServerExceptionMapper(priority = jakarta.ws.rs.Priorities.USER + 1)
    public Response framework(WebApplicationException e, UriInfo uri) {
        if (e.getCause() instanceof JsonProcessingException j) {
            return badJson(j, uri);
        }
        Response r = e.getResponse();
        if (r != null && r.hasEntity()) {
            return r;
        }
        int status = r == null ? 500 : r.getStatus();
        String reason = Response.Status.fromStatusCode(status) == null ? "HTTP " + status : Response.Status.fromStatusCode(status).getReasonPhrase();
        String detail = e.getMessage() == null || e.getMessage().isBlank() || e.getMessage().startsWith("HTTP ") ? "" : ": " + e.getMessage();
        Response.ResponseBuilder b = Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(body(reason.toLowerCase(java.util.Locale.ROOT).replace(' ', '-'), path(uri) + ": " + reason + detail
                        + ". See /q/openapi for the API's routes"));
        if (r != null) {
            r.getHeaders().forEach((k, vs) -> {
                if (!k.equalsIgnoreCase("Content-Type") && !k.equalsIgnoreCase("Content-Length")) {
                    vs.forEach(v -> b.header(k, v));
                }
            });
        }
        return b.build();
    }

    private static String path(UriInfo uri) {
        return uri == null ? "request" : "/" + uri.getPath().replaceFirst("^/", "");
    }

    private static Response json(int status, String code, String message) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(body(code, message)).build();
    }

    private static Map<String, Object> body(String code, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("error", code);
        m.put("message", message);
        return m;
    }
}
