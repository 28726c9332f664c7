#include "config.h"

#include "runner.h"
#include "tap.h"

int main(void) {
        ok(run_word_could_be_command("date"), "date could be a command");
        ok(run_word_could_be_command("python3"), "python3 could be a command");
        ok(run_word_could_be_command("g++"), "g++ could be a command");
        ok(run_word_could_be_command("run-parts"), "run-parts could be a command");
        ok(!run_word_could_be_command("/no/where"), "an absolute path is a workspace");
        ok(!run_word_could_be_command("src/app"), "a relative path is a workspace");
        ok(!run_word_could_be_command("./date"), "./date is a path");
        ok(!run_word_could_be_command("."), ". is the current directory");
        ok(!run_word_could_be_command(".."), ".. is the parent");
        ok(!run_word_could_be_command(""), "empty");
        ok(!run_word_could_be_command(NULL), "none");
        ok(!run_word_could_be_command("my dir"), "a name with a space is not typed as a command");
        ok(!run_word_could_be_command("-x"), "an option is not a command");
        return tap_done();
}
