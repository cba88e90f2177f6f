package dev.spore.bench.functions;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The benchmark's PNG, drawn with java.awt in headless mode (no plotting tool on the machine, nothing to install).
 * Two panels on log scales, since cold starts and warm calls are three orders of magnitude apart: left, cold →
 * first response versus restore → first response; right, first request after restore versus steady warm, back to
 * back and paced.
 */
final class FunctionsChart {

    private static final int W = 1280;
    private static final int H = 560;
    private static final Color COLD = new Color(0x9e9e9e);
    private static final Color RESTORE = new Color(0x2e7d32);
    private static final Color FIRST = new Color(0xef6c00);
    private static final Color WARM = new Color(0x1565c0);
    private static final Color FIRST_PACED = new Color(0xffb74d);
    private static final Color WARM_PACED = new Color(0x64b5f6);

    private FunctionsChart() {
    }

    static void draw(List<FunctionsBench.Result> results, Path png, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, W, H);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
            g.drawString(title, 20, 30);
            int n = results.size();
            double[][] left = new double[n][];
            double[][] right = new double[n][];
            String[] names = new String[n];
            for (int i = 0; i < n; i++) {
                FunctionsBench.Result r = results.get(i);
                names[i] = r.fn.name();
                left[i] = new double[]{r.cold.percentile(50), r.restoreFirst.percentile(50)};
                right[i] = new double[]{r.firstRequest.percentile(50), r.warm.percentile(50), r.pacedFirst.percentile(50),
                        r.pacedWarm.percentile(50)};
            }
            panel(g, 20, 50, W / 2 - 30, H - 70, "start → first response (ms, log)", names, left,
                    new String[]{"cold start", "restore"}, new Color[]{COLD, RESTORE});
            panel(g, W / 2 + 10, 50, W / 2 - 30, H - 70, "request latency after restore (ms, log)", names, right,
                    new String[]{"first, back to back", "warm, back to back", "first, paced", "warm, paced"},
                    new Color[]{FIRST, WARM, FIRST_PACED, WARM_PACED});
        } finally {
            g.dispose();
        }
        ImageIO.write(img, "png", png.toFile());
    }

    private static void panel(Graphics2D g, int x, int y, int w, int h, String title, String[] names, double[][] values,
                              String[] series, Color[] colors) {
        int left = x + 55;
        int top = y + 50;
        int bottom = y + h - 40;
        int right = x + w - 10;
        double max = 1e-9;
        double min = Double.MAX_VALUE;
        for (double[] v : values) {
            for (double d : v) {
                max = Math.max(max, d);
                min = Math.min(min, d);
            }
        }
        // whole decades around the data, so the ratios read off the grid
        int lo = (int) Math.floor(Math.log10(Math.max(min, 1e-3)));
        int hi = (int) Math.ceil(Math.log10(max));
        if (hi == lo) {
            hi++;
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, x + 5, y + 15);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i < series.length; i++) {
            g.setColor(colors[i]);
            g.fillRect(x + 5 + i * 150, y + 25, 12, 12);
            g.setColor(Color.BLACK);
            g.drawString(series[i], x + 22 + i * 150, y + 36);
        }
        for (int d = lo; d <= hi; d++) {
            int yy = yOf(Math.pow(10, d), lo, hi, top, bottom);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(left, yy, right, yy);
            g.setColor(Color.DARK_GRAY);
            String label = d >= 0 ? String.format(Locale.ROOT, "%.0f", Math.pow(10, d)) : String.format(Locale.ROOT, "%s", Math.pow(10, d));
            g.drawString(label, left - 8 - g.getFontMetrics().stringWidth(label), yy + 4);
        }
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1));
        g.drawLine(left, top, left, bottom);
        g.drawLine(left, bottom, right, bottom);
        int groups = names.length;
        double groupW = (right - left) / (double) Math.max(1, groups);
        int barW = (int) Math.min(40, groupW / (series.length + 1));
        for (int i = 0; i < groups; i++) {
            int gx = (int) (left + i * groupW + (groupW - barW * series.length) / 2);
            for (int s = 0; s < series.length; s++) {
                double v = values[i][s];
                int yy = yOf(Math.max(v, Math.pow(10, lo)), lo, hi, top, bottom);
                g.setColor(colors[s]);
                g.fillRect(gx + s * barW, yy, barW - 2, bottom - yy);
                g.setColor(Color.BLACK);
                String label = v >= 10 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
                g.drawString(label, gx + s * barW + (barW - 2 - g.getFontMetrics().stringWidth(label)) / 2, yy - 3);
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            int tw = g.getFontMetrics().stringWidth(names[i]);
            g.drawString(names[i], (int) (left + i * groupW + (groupW - tw) / 2), bottom + 18);
        }
    }

    private static int yOf(double v, int lo, int hi, int top, int bottom) {
        double f = (Math.log10(v) - lo) / (hi - lo);
        return (int) Math.round(bottom - f * (bottom - top));
    }
}
