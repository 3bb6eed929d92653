package dev.sieve.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The dependency rules of docs/architecture.md, checked on the compiled classes of every module. */
class DependencyRulesTest {
    static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                // test-jars of the lower modules carry test classes too
                .withImportOption(location -> !location.contains("-tests.jar") && !location.contains("test-classes"))
                .importPackages("dev.sieve");
    }

    @Test
    void coreDependsOnNothingAbove() {
        noClasses().that().resideInAPackage("dev.sieve.core..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.io..", "dev.sieve.model..",
                        "dev.sieve.tokenizer..", "dev.sieve.runtime..", "dev.sieve.compress..", "dev.sieve.server..",
                        "dev.sieve.cli..")
                .check(classes);
    }

    @Test
    void onlyKernelsUseTheVectorApi() {
        noClasses().that().resideOutsideOfPackage("dev.sieve.kernel..")
                .should().dependOnClassesThat().resideInAPackage("jdk.incubator.vector..")
                .check(classes);
    }

    @Test
    void fileFormatsAndTokenizersDoNotKnowModelsOrRuntime() {
        noClasses().that().resideInAnyPackage("dev.sieve.io..", "dev.sieve.tokenizer..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.model..", "dev.sieve.runtime..",
                        "dev.sieve.compress..", "dev.sieve.server..", "dev.sieve.cli..")
                .check(classes);
    }

    @Test
    void modelsDoNotKnowTheRuntime() {
        noClasses().that().resideInAPackage("dev.sieve.model..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.runtime..", "dev.sieve.compress..",
                        "dev.sieve.server..", "dev.sieve.cli..")
                .check(classes);
    }

    @Test
    void architecturesNeverImportEachOther() {
        slices().matching("dev.sieve.model.arch.(*)..").should().notDependOnEachOther().check(classes);
    }

    @Test
    void compressionNeverUsesTheRuntimeOrServer() {
        noClasses().that().resideInAPackage("dev.sieve.compress..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.runtime..", "dev.sieve.server..",
                        "dev.sieve.cli..")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void onlyTheCliUsesPicocli() {
        noClasses().that().resideOutsideOfPackage("dev.sieve.cli..")
                .should().dependOnClassesThat().resideInAPackage("picocli..")
                .check(classes);
    }

    @Test
    void onlyTheServerSpeaksHttpAndJson() {
        noClasses().that().resideOutsideOfPackage("dev.sieve.server..")
                .should().dependOnClassesThat().resideInAnyPackage("org.eclipse.jetty..", "com.fasterxml.jackson..")
                .check(classes);
    }

    @Test
    void theEngineNeverSeesTheServer() {
        noClasses().that().resideInAnyPackage("dev.sieve.runtime..", "dev.sieve.model..", "dev.sieve.tokenizer..")
                .should().dependOnClassesThat().resideInAPackage("dev.sieve.server..")
                .check(classes);
    }

    @Test
    void wireFormatKnowsNeitherEngineNorTransport() {
        noClasses().that().resideInAPackage("dev.sieve.server.openai..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.runtime..", "dev.sieve.model..",
                        "dev.sieve.server.http..", "dev.sieve.server.bridge..", "org.eclipse.jetty..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.sieve.server.bridge..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.sieve.server.http..", "org.eclipse.jetty..",
                        "com.fasterxml.jackson.databind..")
                .check(classes);
    }
}
