package dev.spore.functions.jsontransform;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A JSON transform: an order document (camelCase, as a web shop sends it) becomes an invoice (snake_case, as
 * an accounting system wants it): lines priced and sorted, totals per category, tax, a discount over a
 * threshold. Both sides are records mapped by the function's own jackson-databind (the host finds it on the
 * function's class path), so Jackson's reflection, annotation introspection and serializers are what the
 * warm-up compiles and the snapshot keeps.
 */
public class JsonTransform implements Function<JsonTransform.Order, JsonTransform.Invoice> {

    static final BigDecimal TAX_RATE = new BigDecimal("0.20");
    static final BigDecimal DISCOUNT_THRESHOLD = new BigDecimal("500.00");
    static final BigDecimal DISCOUNT_RATE = new BigDecimal("0.05");

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Order(String orderId, Customer customer, String currency, List<Line> lines) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Customer(String id, String name, String country) {
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Line(String sku, String category, int quantity, BigDecimal unitPrice) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Invoice(String invoiceFor, String customerName, String currency, List<InvoiceLine> lines,
                          Map<String, BigDecimal> subtotalByCategory, BigDecimal net, BigDecimal discount,
                          BigDecimal tax, @JsonProperty("total_due") BigDecimal total, int itemCount) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record InvoiceLine(String sku, int quantity, BigDecimal unitPrice, BigDecimal amount) {
    }

    @Override
    public Invoice apply(Order order) {
        if (order == null || order.lines() == null || order.lines().isEmpty()) {
            throw new IllegalArgumentException("an order needs at least one line (field 'lines')");
        }
        List<InvoiceLine> lines = new ArrayList<>();
        Map<String, BigDecimal> byCategory = new TreeMap<>();
        BigDecimal net = BigDecimal.ZERO;
        int items = 0;
        for (Line l : order.lines()) {
            if (l.sku() == null || l.unitPrice() == null || l.quantity() <= 0) {
                throw new IllegalArgumentException("line " + l + " needs a sku, a unitPrice and a quantity > 0");
            }
            BigDecimal amount = l.unitPrice().multiply(BigDecimal.valueOf(l.quantity())).setScale(2, RoundingMode.HALF_EVEN);
            lines.add(new InvoiceLine(l.sku(), l.quantity(), l.unitPrice(), amount));
            byCategory.merge(l.category() == null ? "other" : l.category(), amount, BigDecimal::add);
            net = net.add(amount);
            items += l.quantity();
        }
        lines.sort(Comparator.comparing(InvoiceLine::amount).reversed().thenComparing(InvoiceLine::sku));
        BigDecimal discount = net.compareTo(DISCOUNT_THRESHOLD) >= 0
                ? net.multiply(DISCOUNT_RATE).setScale(2, RoundingMode.HALF_EVEN) : null;
        BigDecimal taxable = discount == null ? net : net.subtract(discount);
        BigDecimal tax = taxable.multiply(TAX_RATE).setScale(2, RoundingMode.HALF_EVEN);
        Customer c = order.customer();
        return new Invoice(order.orderId(), c == null ? null : c.name(), order.currency() == null ? "EUR" : order.currency(),
                lines, byCategory, net, discount, tax, taxable.add(tax), items);
    }
}
