package dev.spore.functions.thumbnail;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.function.Function;

/**
 * A CPU-bound function: decodes a PNG or JPEG ({@code javax.imageio}), scales it to fit {@value #MAX} x
 * {@value #MAX} keeping its aspect ratio (progressive halving, then one bilinear step: the quality of
 * area averaging at a fraction of its cost), and answers the thumbnail as PNG bytes. Input may be the raw
 * image bytes or the same bytes in base64 (what a JSON-only caller can send). Decoding, resampling and
 * deflating are all hot loops the JIT compiles during warm-up.
 */
public class Thumbnail implements Function<byte[], byte[]> {

    static final int MAX = 128;

    static {
        // no display, ever; must be set before anything touches AWT
        System.setProperty("java.awt.headless", "true");
        // ImageIO's default cache is a temp file per decode: an open file (refused at checkpoint) and disk I/O
        ImageIO.setUseCache(false);
    }

    @Override
    public byte[] apply(byte[] input) {
        if (input == null || input.length == 0) {
            throw new IllegalArgumentException("thumbnail needs an image (PNG or JPEG bytes, raw or base64); got nothing");
        }
        byte[] bytes = looksLikeImage(input) ? input : decodeBase64(input);
        try {
            BufferedImage source = ImageIO.read(new ByteArrayInputStream(bytes));
            if (source == null) {
                throw new IllegalArgumentException("thumbnail: " + bytes.length + " bytes are not a PNG or JPEG image");
            }
            BufferedImage thumb = scale(source);
            ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
            ImageIO.write(thumb, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("thumbnail: cannot decode or encode the image: " + e.getMessage(), e);
        }
    }

    static BufferedImage scale(BufferedImage source) {
        int w = source.getWidth();
        int h = source.getHeight();
        double ratio = Math.min(1.0, Math.min((double) MAX / w, (double) MAX / h));
        int tw = Math.max(1, (int) Math.round(w * ratio));
        int th = Math.max(1, (int) Math.round(h * ratio));
        BufferedImage current = toRgb(source);
        // halve while more than twice too big: a single bilinear step from far away aliases badly
        while (current.getWidth() / 2 >= tw && current.getHeight() / 2 >= th) {
            current = resize(current, current.getWidth() / 2, current.getHeight() / 2);
        }
        return current.getWidth() == tw && current.getHeight() == th ? current : resize(current, tw, th);
    }

    private static BufferedImage toRgb(BufferedImage source) {
        if (source.getType() == BufferedImage.TYPE_INT_RGB) {
            return source;
        }
        return resize(source, source.getWidth(), source.getHeight());
    }

    private static BufferedImage resize(BufferedImage source, int w, int h) {
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(source, 0, 0, w, h, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** PNG ({@code 89 50 4E 47}) or JPEG ({@code FF D8 FF}) magic. */
    static boolean looksLikeImage(byte[] b) {
        boolean png = b.length >= 4 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
        boolean jpeg = b.length >= 3 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8 && (b[2] & 0xff) == 0xFF;
        return png || jpeg;
    }

    private static byte[] decodeBase64(byte[] input) {
        try {
            return Base64.getMimeDecoder().decode(input);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("thumbnail: input is neither PNG/JPEG bytes nor base64 of them ("
                    + e.getMessage() + ")", e);
        }
    }
}
