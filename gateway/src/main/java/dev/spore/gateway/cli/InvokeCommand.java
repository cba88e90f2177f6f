package dev.spore.gateway.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code spore invoke NAME}: one synchronous invocation; prints the body, and who served it on stderr. */
@Command(name = "invoke", description = "Invoke a function synchronously and print its output")
final class InvokeCommand extends SporeCli.Sub {

    @Parameters(index = "0", description = "function name")
    String name;

    @Option(names = {"-v", "--version"}, description = "version number or alias (default: latest)")
    String version;

    @Option(names = {"-d", "--data"}, description = "the payload (text)")
    String data;

    @Option(names = {"-f", "--file"}, description = "read the payload from a file ('-' for stdin)")
    String file;

    @Option(names = "--content-type", description = "Content-Type sent with the payload")
    String contentType;

    @Override
    public Integer call() throws Exception {
        byte[] body;
        if (file != null) {
            body = file.equals("-") ? System.in.readAllBytes() : Files.readAllBytes(Path.of(file));
        } else {
            body = data == null ? new byte[0] : data.getBytes(StandardCharsets.UTF_8);
        }
        String path = "/invoke/" + name + (version != null ? "/" + version : "");
        HttpResponse<byte[]> r = client().send("POST", path, body, contentType, null);
        String start = r.headers().firstValue("X-Spore-Start").orElse("?");
        String instance = r.headers().firstValue("X-Spore-Instance").orElse("?");
        String millis = r.headers().firstValue("X-Spore-Millis").orElse("?");
        if (json()) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("status", r.statusCode());
            out.put("start", start);
            out.put("instance", instance);
            out.put("version", r.headers().firstValue("X-Spore-Version").orElse(null));
            out.put("millis", millis);
            out.put("body", new String(r.body(), StandardCharsets.UTF_8));
            SporeCli.printJson(Client.JSON.valueToTree(out));
            return r.statusCode() < 300 ? 0 : 1;
        }
        if (r.statusCode() >= 300) {
            throw new Client.CliException(Client.errorMessage(r.statusCode(), r.body()));
        }
        System.out.write(r.body());
        System.out.println();
        System.out.flush();
        System.err.println("(" + start + " instance=" + instance + " v=" + r.headers().firstValue("X-Spore-Version").orElse("?")
                + ", " + millis + " ms in the gateway)");
        return 0;
    }
}
