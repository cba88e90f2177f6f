package dev.spore.functions.lambdahello;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyRequestEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayProxyResponseEvent;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An unmodified AWS Lambda handler behind API Gateway: greets {@code ?name=} (or the body), and reports what
 * its Lambda {@link Context} says, so tests can see a fresh request id and a running deadline per call.
 * Deploy with handler {@code dev.spore.functions.lambdahello.LambdaHello} and warm up with
 * {@code warmup/api-gateway-event.json}.
 */
public class LambdaHello implements RequestHandler<APIGatewayProxyRequestEvent, APIGatewayProxyResponseEvent> {

    @Override
    public APIGatewayProxyResponseEvent handleRequest(APIGatewayProxyRequestEvent event, Context context) {
        String name = null;
        if (event.getQueryStringParameters() != null) {
            name = event.getQueryStringParameters().get("name");
        }
        if ((name == null || name.isBlank()) && event.getBody() != null && !event.getBody().isBlank()) {
            name = event.getBody().strip();
        }
        if (name == null || name.isBlank()) {
            name = "world";
        }
        if (name.equals("fail")) {
            throw new IllegalArgumentException("name 'fail' asked for a failure");
        }
        context.getLogger().log("lambda-hello: greeting " + name + " request " + context.getAwsRequestId());
        String body = "{\"message\":\"Hello, " + escape(name) + "!\""
                + ",\"requestId\":\"" + context.getAwsRequestId() + "\""
                + ",\"remainingMillis\":" + context.getRemainingTimeInMillis()
                + ",\"function\":\"" + escape(context.getFunctionName()) + "\""
                + ",\"instance\":\"" + escape(String.valueOf(System.getProperty("spore.instance"))) + "\"}";
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Content-Type", "application/json");
        return new APIGatewayProxyResponseEvent().withStatusCode(200).withHeaders(headers).withBody(body);
    }

    private static String escape(String s) {
        return s == null ? "" : s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
