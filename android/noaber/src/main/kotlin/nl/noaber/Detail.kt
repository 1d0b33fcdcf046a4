// `Summary.detailJson` read without a JSON library: the wrapper runs on the plain JVM (tests)
// and on Android, and the object is small and flat (numbers, strings, booleans, null, arrays).
package nl.noaber

import nl.noaber.ffi.Summary

/**
 * The kind-specific figures of a list row (`Summary.detailJson`), as the core projects them:
 * help `helper`, `responses`, `urgency`; event `going`, `waitlisted`, `capacity`,
 * `shifts_needed`, `shifts_filled`; task `adopter`, `backups`, `pledges`, `next_open`; report
 * `severity`, `me_too`, `photos`. A key the core does not write reads as `null`.
 */
class Detail internal constructor(private val values: Map<String, Any?>) {
    /** A number as a `Long` (`null` when absent, null or not a number). */
    fun long(key: String): Long? = (values[key] as? Number)?.toLong()

    /** A string (`null` when absent, null or not a string). */
    fun string(key: String): String? = values[key] as? String

    /** A boolean (`null` when absent, null or not a boolean). */
    fun boolean(key: String): Boolean? = values[key] as? Boolean

    /** An array's strings (empty when absent or not an array). */
    fun strings(key: String): List<String> = (values[key] as? List<*>)?.filterIsInstance<String>().orEmpty()

    /** An array's length, or a number (`responses` is a count or a list, by kind). */
    fun count(key: String): Long? = when (val v = values[key]) {
        is List<*> -> v.size.toLong()
        is Number -> v.toLong()
        else -> null
    }

    /** The keys present. */
    val keys: Set<String> get() = values.keys

    /** Parsing `Summary.detailJson`. */
    companion object {
        /**
         * Reads a JSON object.
         *
         * @throws IllegalArgumentException for text that is not a JSON object; the core writes
         *   only objects, so this means a bug.
         */
        fun parse(json: String): Detail {
            val reader = JsonReader(json)
            val value = reader.value()
            reader.end()
            require(value is Map<*, *>) { "detail is not a JSON object" }
            @Suppress("UNCHECKED_CAST")
            return Detail(value as Map<String, Any?>)
        }
    }
}

/** This row's kind-specific figures. */
val Summary.detail: Detail get() = Detail.parse(detailJson)

/** A strict reader for the JSON subset serde_json writes (RFC 8259, no extensions). */
private class JsonReader(private val s: String) {
    private var i = 0

    fun end() {
        space()
        require(i == s.length) { "trailing characters at $i" }
    }

    fun value(): Any? {
        space()
        require(i < s.length) { "unexpected end" }
        return when (val c = s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> word("true", true)
            'f' -> word("false", false)
            'n' -> word("null", null)
            else -> if (c == '-' || c.isDigit()) num() else throw IllegalArgumentException("unexpected '$c' at $i")
        }
    }

    private fun obj(): Map<String, Any?> {
        val out = LinkedHashMap<String, Any?>()
        i++ // {
        space()
        if (peek() == '}') { i++; return out }
        while (true) {
            space()
            require(peek() == '"') { "expected a key at $i" }
            val key = str()
            space()
            expect(':')
            out[key] = value()
            space()
            when (next()) {
                ',' -> continue
                '}' -> return out
                else -> throw IllegalArgumentException("expected ',' or '}' at ${i - 1}")
            }
        }
    }

    private fun arr(): List<Any?> {
        val out = ArrayList<Any?>()
        i++ // [
        space()
        if (peek() == ']') { i++; return out }
        while (true) {
            out += value()
            space()
            when (next()) {
                ',' -> continue
                ']' -> return out
                else -> throw IllegalArgumentException("expected ',' or ']' at ${i - 1}")
            }
        }
    }

    private fun str(): String {
        val out = StringBuilder()
        i++ // "
        while (true) {
            val c = next()
            when {
                c == '"' -> return out.toString()
                c == '\\' -> when (val e = next()) {
                    '"', '\\', '/' -> out.append(e)
                    'b' -> out.append('\b')
                    'f' -> out.append('\u000C')
                    'n' -> out.append('\n')
                    'r' -> out.append('\r')
                    't' -> out.append('\t')
                    'u' -> {
                        require(i + 4 <= s.length) { "short \\u escape at $i" }
                        out.append(s.substring(i, i + 4).toInt(16).toChar())
                        i += 4
                    }
                    else -> throw IllegalArgumentException("bad escape '\\$e' at ${i - 1}")
                }
                c < ' ' -> throw IllegalArgumentException("control character in a string at ${i - 1}")
                else -> out.append(c)
            }
        }
    }

    private fun num(): Number {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val text = s.substring(start, i)
        return text.toLongOrNull() ?: text.toDoubleOrNull() ?: throw IllegalArgumentException("bad number '$text'")
    }

    private fun word(w: String, v: Any?): Any? {
        require(s.startsWith(w, i)) { "unexpected text at $i" }
        i += w.length
        return v
    }

    private fun space() {
        while (i < s.length && s[i] in " \t\r\n") i++
    }

    private fun peek(): Char? = if (i < s.length) s[i] else null

    private fun next(): Char {
        require(i < s.length) { "unexpected end" }
        return s[i++]
    }

    private fun expect(c: Char) = require(next() == c) { "expected '$c' at ${i - 1}" }
}
