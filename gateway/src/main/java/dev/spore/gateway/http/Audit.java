package dev.spore.gateway.http;

import dev.spore.gateway.GatewayException;

/**
 * One line on logger {@code spore.audit} for every change to what runs: deploy, upload, alias, delete.
 * Shape: {@code who=NAME action=ACTION fn=F [v=N] [alias=A] result=ok|STATUS CODE}. The who is the API
 * token's name (never the token), {@code local} on an open loopback gateway.
 */
final class Audit {

    private static final System.Logger LOG = System.getLogger("spore.audit");

    private Audit() {
    }

    static void ok(String who, String action, String what) {
        LOG.log(System.Logger.Level.INFO, "who=" + who + " action=" + action + " " + what + " result=ok");
    }

    static void failed(String who, String action, String what, Throwable e) {
        String result = e instanceof GatewayException g ? g.status() + " " + g.code() : "500 " + e.getClass().getSimpleName();
        LOG.log(System.Logger.Level.WARNING, "who=" + who + " action=" + action + " " + what + " result=" + result);
    }
}
