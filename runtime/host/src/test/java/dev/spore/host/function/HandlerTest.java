package dev.spore.host.function;

import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The adapters and the RESULT mapping, without an agent or CRIU: handlers of every shape, loaded by name. */
class HandlerTest {

    private static final String T = TestHandlers.class.getName() + "$";

    private static Handler load(String spec) throws Exception {
        return HandlerLoader.load(spec, HandlerTest.class.getClassLoader(), "fn-test", "7");
    }

    private static Message call(Handler h, String body) {
        return call(h, body, System.currentTimeMillis() + 30_000);
    }

    private static Message call(Handler h, String body, long deadline) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("id", "req-" + body.hashCode());
        headers.put("deadline", Long.toString(deadline));
        headers.put("h.accept", "text/plain");
        Message result = ServeLoop.handle(h, new Message(Type.INVOKE, headers, body.getBytes(StandardCharsets.UTF_8)));
        assertThat(result.type()).isEqualTo(Type.RESULT);
        assertThat(result.header("id")).isEqualTo(headers.get("id"));
        return result;
    }

    private static String text(Message m) {
        return new String(m.body(), StandardCharsets.UTF_8);
    }

    @Test
    void plainFunctionOfStrings() throws Exception {
        Handler h = load(T + "Upper");
        assertThat(h.inputType()).isEqualTo(String.class);
        Message r = call(h, "hello");
        assertThat(text(r)).isEqualTo("HELLO");
        assertThat(r.header("error")).isNull();
        assertThat(r.header("h.content-type")).startsWith("text/plain");
    }

    @Test
    void handlerExceptionBecomesAnErrorResultNotAThrow() throws Exception {
        Message r = call(load(T + "Upper"), "boom");
        assertThat(r.header("error-type")).isEqualTo("handler");
        assertThat(r.header("error")).isEqualTo("java.lang.IllegalStateException: boom requested");
    }

    @Test
    void jsonMapInAndOutWithTheBuiltInCodec() throws Exception {
        Message r = call(load(T + "Sum"), "{\"values\": [1, 2, 39]}");
        assertThat(text(r)).isEqualTo("{\"sum\":42}");
        assertThat(r.header("h.content-type")).isEqualTo("application/json");
    }

    @Test
    void undecodablePayloadIsABadRequest() throws Exception {
        Message r = call(load(T + "Sum"), "values: 1, 2");
        assertThat(r.header("error-type")).isEqualTo("bad-request");
        assertThat(r.header("error")).contains("java.util.Map").contains("offset 0");
        Message wrongShape = call(load(T + "Swap"), "{\"x\": \"one\", \"y\": 2}");
        assertThat(wrongShape.header("error-type")).isEqualTo("bad-request");
    }

    @Test
    void recordsAndInheritedTypeArguments() throws Exception {
        assertThat(text(call(load(T + "Swap"), "{\"x\": 1, \"y\": 2}"))).isEqualTo("{\"x\":2,\"y\":1}");
        Handler typed = load(T + "Typed");
        assertThat(typed.inputType()).isEqualTo(Integer.class);
        assertThat(text(call(typed, "5"))).isEqualTo("Integer:5");
    }

    @Test
    void bytesPassThrough() throws Exception {
        Message r = call(load(T + "Bytes"), "four");
        assertThat(r.body()).containsExactly(4);
        assertThat(r.header("h.content-type")).isEqualTo("application/octet-stream");
    }

    @Test
    void lambdaRequestHandlerGetsAWorkingContext() throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        String[] parts = text(call(load(T + "Lambda"), "{\"name\": \"ada\"}", deadline)).split("\\|");
        assertThat(parts[0]).isEqualTo("ada");
        assertThat(parts[1]).startsWith("req-");
        assertThat(Integer.parseInt(parts[2])).isPositive().isLessThanOrEqualTo(30_000);
        assertThat(parts[3]).isEqualTo("fn-test");
        assertThat(parts[4]).isEqualTo("7");
    }

    @Test
    void lambdaStringInputIsUnquotedLikeLambda() throws Exception {
        assertThat(text(call(load(T + "LambdaString"), "\"quoted\""))).isEqualTo("[quoted]");
        assertThat(text(call(load(T + "LambdaString"), "bare"))).isEqualTo("[bare]");
    }

    @Test
    void lambdaStreamHandler() throws Exception {
        Message r = call(load(T + "Stream"), "raw");
        assertThat(text(r)).startsWith("stream:raw:req-");
    }

    @Test
    void namedMethodsStaticAndWithContext() throws Exception {
        assertThat(text(call(load(T + "Methods::greet"), "bo"))).isEqualTo("hi bo");
        assertThat(text(call(load(T + "Methods::withContext"), "bo"))).startsWith("bo@req-");
    }

    @Test
    void unknownClassNamesTheClassAndTheClassPath() {
        assertThatThrownBy(() -> load("com.example.Missing"))
                .isInstanceOf(HandlerLoader.LoadException.class)
                .hasMessageContaining("handler=com.example.Missing")
                .hasMessageContaining("class com.example.Missing not found")
                .hasMessageContaining(System.getProperty("java.class.path").split(":")[0]);
    }

    @Test
    void unusableHandlersFailAtLoadNotAtTheFirstRequest() {
        assertThatThrownBy(() -> load(T + "NotAHandler")).hasMessageContaining("is not a handler");
        assertThatThrownBy(() -> load(T + "NoDefaultConstructor")).hasMessageContaining("no no-argument constructor");
        assertThatThrownBy(() -> load(T + "NeedsJackson")).hasMessageContaining("needs jackson-databind");
        assertThatThrownBy(() -> load(T + "Methods::absent")).hasMessageContaining("has no method absent");
    }

    @Test
    void optionsParseAndRejectBadValues() {
        FunctionMain.Options o = FunctionMain.Options.parse(new String[] {"--handler", "a.b.Hello::x", "--warmup-file", "/p",
                "--warmup-count", "5", "--no-checkpoint"});
        assertThat(o.function).isEqualTo("Hello");
        assertThat(o.warmupCount).isEqualTo(5);
        assertThat(o.checkpoint).isFalse();
        assertThatThrownBy(() -> FunctionMain.Options.parse(new String[] {"--warmup-count", "-1", "--handler", "x"}))
                .hasMessageContaining("-1 is not a number >= 0");
        assertThatThrownBy(() -> FunctionMain.Options.parse(new String[] {})).hasMessageContaining("--handler is required");
    }
}
