package org.kerassa.separator;

/**
 * A FIFO of float samples addressed by absolute position: the samples of a stream from position
 * {@link #origin()} to {@link #end()}, in one array so that filters can read them in place.
 *
 * <p>Streaming stages keep only the samples they still need ({@link #discardBefore}), so the
 * queue's size stays bounded by a stage's look-ahead plus one chunk, whatever the stream's length.
 */
final class SampleQueue {
    private float[] data = new float[256];
    private int start;
    private int size;
    private long origin;

    /** Absolute position of the first sample held. */
    long origin() {
        return origin;
    }

    /** Absolute position one past the last sample held (the samples appended so far). */
    long end() {
        return origin + size;
    }

    /** Samples held. */
    int size() {
        return size;
    }

    /** The backing array; sample {@code p} is at {@link #index}{@code (p)}. Valid until the next append. */
    float[] array() {
        return data;
    }

    int index(long position) {
        return start + (int) (position - origin);
    }

    float get(long position) {
        return data[index(position)];
    }

    void append(float[] x, int offset, int length) {
        reserve(length);
        System.arraycopy(x, offset, data, start + size, length);
        size += length;
    }

    /** Appends {@code length} zeros. */
    void appendZeros(int length) {
        reserve(length);
        java.util.Arrays.fill(data, start + size, start + size + length, 0f);
        size += length;
    }

    /** Drops the samples before {@code position} (those the caller will not read again). */
    void discardBefore(long position) {
        int drop = (int) Math.min(Math.max(position - origin, 0), size);
        start += drop;
        size -= drop;
        origin += drop;
    }

    /** Removes and returns the first {@code count} samples. */
    float[] take(int count) {
        float[] out = new float[count];
        System.arraycopy(data, start, out, 0, count);
        discardBefore(origin + count);
        return out;
    }

    private void reserve(int length) {
        if (start + size + length <= data.length) {
            return;
        }
        float[] target = size + length <= data.length / 2 ? data : new float[Math.max(2 * data.length, 2 * (size + length))];
        System.arraycopy(data, start, target, 0, size);
        data = target;
        start = 0;
    }
}
