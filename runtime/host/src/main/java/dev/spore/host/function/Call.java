package dev.spore.host.function;

import java.util.Map;

/**
 * One invocation as the handler adapters see it.
 *
 * @param id             the request id (also the Lambda {@code Context.getAwsRequestId()})
 * @param body           the payload
 * @param headers        the caller's headers
 * @param deadlineMillis epoch milliseconds by which the caller gives up; 0 when it set no deadline
 */
record Call(String id, byte[] body, Map<String, String> headers, long deadlineMillis) {

    long remainingMillis() {
        return deadlineMillis <= 0 ? Long.MAX_VALUE : Math.max(0, deadlineMillis - System.currentTimeMillis());
    }
}
