plugins {
    id("com.android.application")
}

android {
    namespace = "org.kerassa.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.kerassa.demo"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // The model is memory-mapped from the APK: it must be stored uncompressed.
    androidResources {
        noCompress += "tflite"
    }

    sourceSets {
        getByName("main") {
            assets.srcDir(layout.buildDirectory.dir("generated/modelAssets"))
        }
    }
}

// The dynamic-range model (android_demo/README.md says why this one) and its audio contract come from the repository's tflite/models folder (written
// by the Python package's TFLite export); they are copied into the APK's assets at build time, so
// the repository holds one copy of the model.
val modelFolder: File = rootProject.file("../tflite/models")
val modelFiles = listOf("sa_shn_mobile_dynamic.tflite", "sa_shn_mobile_dynamic.json")

val copyModel by tasks.registering(Copy::class) {
    description = "Copies the model and its audio contract into the app's generated assets."
    val folder = modelFolder
    val names = modelFiles
    val copiedByHand = file("src/main/assets")
    // Files copied into src/main/assets by hand take precedence (use one way or the other).
    onlyIf { names.none { File(copiedByHand, it).isFile } }
    doFirst {
        val missing = names.filterNot { File(folder, it).isFile }
        if (missing.isNotEmpty()) {
            throw GradleException(
                "Model files missing in $folder: ${missing.joinToString()}. Export the model with the " +
                    "Python package (see android_demo/README.md), or copy them into app/src/main/assets/."
            )
        }
    }
    from(folder) {
        include(names)
    }
    into(layout.buildDirectory.dir("generated/modelAssets"))
}

tasks.named("preBuild") {
    dependsOn(copyModel)
}

dependencies {
    implementation(project(":separator-core"))
    implementation("com.google.ai.edge.litert:litert:1.4.1")
    implementation("androidx.activity:activity:1.10.1")
}
