// `:noaber`: the Kotlin library the app uses: the generated uniffi bindings (`nl.noaber.ffi`,
// generated at build time with `android = true`) plus the coroutine/Flow wrapper (`nl.noaber`,
// src/main/kotlin, plain Kotlin that the repository's JVM tests compile and run) and the native
// libraries (src/main/jniLibs, built by scripts/build-jni-libs.sh).
import javax.inject.Inject
import org.gradle.process.ExecOperations

plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "nl.noaber"
    compileSdk = 36

    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        // Warnings are errors for the wrapper in the JVM tests (kotlinc -Werror); not here,
        // where the generated Android bindings are compiled too.
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

/**
 * Runs android/scripts/generate-bindings.sh: uniffi-bindgen (the workspace's pinned one, built
 * with cargo) reads the API from a built libnoaber_ffi and writes the Kotlin bindings with
 * android/noaber/uniffi-android.toml (`android = true`).
 */
abstract class GenerateUniffiBindings @Inject constructor(
    private val exec: ExecOperations,
) : DefaultTask() {
    /** Any ABI's libnoaber_ffi.so: the exported API is the same for every target. */
    @get:InputFile
    @get:PathSensitive(PathSensitivity.NONE)
    abstract val library: RegularFileProperty

    /** The generator configuration and the crate's own uniffi.toml. */
    @get:InputFiles
    @get:PathSensitive(PathSensitivity.RELATIVE)
    abstract val configs: ConfigurableFileCollection

    /** The script that runs the generator. */
    @get:InputFile
    @get:PathSensitive(PathSensitivity.NONE)
    abstract val script: RegularFileProperty

    /** Where the generated `nl/noaber/ffi/noaber_ffi.kt` goes. */
    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty

    @TaskAction
    fun generate() {
        exec.exec {
            commandLine(
                "bash",
                script.get().asFile.absolutePath,
                library.get().asFile.absolutePath,
                outputDir.get().asFile.absolutePath,
            )
        }
    }
}

val workspace = rootDir.parentFile
val generateUniffiBindings = tasks.register<GenerateUniffiBindings>("generateUniffiBindings") {
    description = "Generates the Kotlin bindings of libnoaber_ffi (android = true)"
    val so = file("src/main/jniLibs/arm64-v8a/libnoaber_ffi.so")
    doFirst {
        check(so.isFile) { "no $so: run android/scripts/build-jni-libs.sh first (README.md)" }
    }
    library.set(so)
    configs.from(file("uniffi-android.toml"), File(workspace, "bindings/uniffi.toml"))
    script.set(File(workspace, "android/scripts/generate-bindings.sh"))
    outputDir.set(layout.buildDirectory.dir("generated/uniffi/kotlin"))
}

androidComponents {
    onVariants { variant ->
        // Kotlin files in a Java source folder are compiled by the Kotlin plugin.
        variant.sources.java?.addGeneratedSourceDirectory(generateUniffiBindings, GenerateUniffiBindings::outputDir)
    }
}

dependencies {
    // JNA with libjnidispatch for every Android ABI; the generated bindings call through it.
    implementation(variantOf(libs.jna) { artifactType("aar") })
    // The Android-configured bindings use androidx.annotation.RequiresApi.
    implementation(libs.androidx.annotation)
    api(libs.kotlinx.coroutines.core)
    implementation(libs.kotlinx.coroutines.android)
}
