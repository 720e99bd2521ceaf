package org.kerassa.separator;

import java.util.Arrays;

/**
 * One tensor of the model, as its audio contract describes it: name, shape, dtype and, for an
 * integer tensor, the affine quantization {@code real = (q - zero_point) * scale}.
 */
public final class TensorSpec {
    public final String name;
    private final int[] shape;
    /** {@code "int8"}, {@code "uint8"} or {@code "float32"}. */
    public final String dtype;
    /** Quantization scale; 0 for a float tensor. */
    public final float scale;
    /** Quantization zero point; 0 for a float tensor. */
    public final int zeroPoint;

    public TensorSpec(String name, int[] shape, String dtype, float scale, int zeroPoint) {
        this.name = name;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        if (!"int8".equals(dtype) && !"uint8".equals(dtype) && !"float32".equals(dtype)) {
            throw new IllegalArgumentException("tensor '" + name + "': unsupported dtype " + dtype
                    + " (int8, uint8 or float32)");
        }
        if (isQuantized() && !(scale > 0f && !Float.isInfinite(scale))) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " needs a positive finite scale");
        }
        if (isQuantized() && (zeroPoint < minValue() || zeroPoint > maxValue())) {
            throw new IllegalArgumentException("tensor '" + name + "': zero_point " + zeroPoint + " outside " + dtype);
        }
    }

    public int[] shape() {
        return shape.clone();
    }

    /** True for an integer tensor that carries a scale and zero point. */
    public boolean isQuantized() {
        return !"float32".equals(dtype);
    }

    /** Number of elements. */
    public int elements() {
        int count = 1;
        for (int d : shape) {
            count *= d;
        }
        return count;
    }

    /** Bytes per element. */
    public int elementBytes() {
        return isQuantized() ? 1 : 4;
    }

    /** Smallest stored integer value (quantized tensors). */
    public int minValue() {
        return "uint8".equals(dtype) ? 0 : -128;
    }

    /** Largest stored integer value (quantized tensors). */
    public int maxValue() {
        return "uint8".equals(dtype) ? 255 : 127;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + (isQuantized() ? " scale=" + scale + " zero_point=" + zeroPoint : "");
    }
}
